// The playground: Try and Compare stream answers (server-sent events over a POST), Reset forgets them.
"use strict";
(function () {
  const form = document.getElementById("playground");
  if (!form) return;
  const csrf = form.elements.namedItem("csrf").value;
  const refused = document.getElementById("refused");
  const panes = { a: document.getElementById("pane-a"), b: document.getElementById("pane-b") };
  let running = false;

  function add(parent, tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    parent.appendChild(node);
    return node;
  }

  function turnIn(pane, prompt) {
    const turn = add(panes[pane], "div", "turn");
    add(turn, "p", "you", prompt);
    return add(turn, "div", "answer");
  }

  function show(answers, data) {
    const holder = answers[data.pane];
    if (!holder) return;
    let message = holder.querySelector('[data-id="' + data.id + '"]');
    if (!message) {
      message = add(holder, "div", "message");
      message.dataset.id = data.id;
      const details = add(message, "details", "reasoning");
      details.open = true;
      add(details, "summary", "", "Reasoning");
      add(details, "pre", "");
      add(message, "p", "text");
    }
    const details = message.querySelector("details");
    details.hidden = !data.reasoning;
    details.querySelector("pre").textContent = data.reasoning;
    message.querySelector(".text").textContent = data.text;
  }

  async function run(mode) {
    if (running) return;
    const prompt = form.elements.namedItem("prompt").value.trim();
    refused.textContent = "";
    const body = new FormData(form);
    body.set("mode", mode);
    panes.b.hidden = mode !== "compare";
    if (mode === "compare") { panes.a.textContent = ""; panes.b.textContent = ""; }
    const answers = { a: turnIn("a", prompt) };
    if (mode === "compare") answers.b = turnIn("b", prompt);
    running = true;
    form.setAttribute("aria-busy", "true");
    try {
      const response = await fetch("/console/try", { method: "POST", body: body, headers: { "X-CSRF-Token": csrf } });
      if (!response.ok) { refused.textContent = await response.text(); return; }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = "message", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          const parsed = data ? JSON.parse(data) : {};
          if (event === "message") show(answers, parsed);
          else if (event === "refused") {
            refused.textContent = parsed.join(" ");
            for (const pane in answers) answers[pane].parentNode.remove();
          } else if (event === "done") form.dataset.done = String(Number(form.dataset.done || 0) + 1);
        }
      }
    } finally {
      running = false;
      form.removeAttribute("aria-busy");
    }
  }

  document.getElementById("try").addEventListener("click", function () { run("try"); });
  document.getElementById("compare").addEventListener("click", function () { run("compare"); });
  document.getElementById("reset").addEventListener("click", async function () {
    const body = new FormData();
    body.set("csrf", csrf);
    body.set("c", form.elements.namedItem("c").value);
    await fetch("/console/reset", { method: "POST", body: body, headers: { "X-CSRF-Token": csrf } });
    panes.a.textContent = "";
    panes.b.textContent = "";
    refused.textContent = "";
    form.dataset.reset = "yes";
  });
})();

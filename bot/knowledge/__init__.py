"""The helpdesk's knowledge: folders of documents indexed in Redis, searched offline (BM25), cited in answers."""

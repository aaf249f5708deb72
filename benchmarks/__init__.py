"""Benchmarks for asgi-reasoning: the splitter against its peers, the middleware, a server."""

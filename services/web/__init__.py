"""The web front end: pages for drivers, dispatchers, terminal operators and port security.

It holds no data of its own and acts only through the identity and release services' public
APIs with the signed-in person's token (docs/web.md): whatever a page can do, an API client
can do too.
"""

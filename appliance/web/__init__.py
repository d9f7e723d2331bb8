"""The browser side: the console at ``/``, the API reference at ``/docs`` and Swagger UI at
``/docs/swagger``, served from files in ``static/`` (plain HTML, CSS and ES modules, no build
step; third-party assets vendored from npm, see ``static/vendor/VENDORED.json``)."""

"""The browser side: the console at ``/`` and the API docs at ``/docs``, served from files
in ``static/`` (plain HTML, CSS and ES modules, no build step; third-party assets vendored
from npm, see ``static/vendor/VENDORED.json``)."""

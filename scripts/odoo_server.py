"""Odoo's command line as a script file.

Odoo with workers restarts ``sys.argv[0]`` for its gevent process (live
notifications in the browser); ``python -m odoo`` cannot be restarted that
way, a script file can.
"""
from odoo.cli.command import main

if __name__ == "__main__":
    main()

"""Settings of the test process itself.

With ``--odoo-http`` the test process runs Odoo's threaded server, and once
queue_job is loaded that server starts a job runner of its own: it would run
the connector's jobs behind the tests' backs. The tests run jobs themselves
(or start a real Odoo with its runner), so this process runs none.
"""
import os

os.environ["ODOO_QUEUE_JOB_CHANNELS"] = "root:0"

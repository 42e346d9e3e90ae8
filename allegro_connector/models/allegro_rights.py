"""Who may press which button.

A method a button calls is also reachable over RPC by anyone who can read the
record: it asks for the same group as its button before doing anything.
"""
from odoo.exceptions import AccessError

ALLEGRO_USER = "allegro_connector.group_allegro_user"
ALLEGRO_MANAGER = "allegro_connector.group_allegro_manager"
BILLING = "account.group_account_invoice"
SYSTEM = "base.group_system"


def check_group(records, xmlid, operation="write"):
    """Raise AccessError unless the user is in the group ``xmlid`` and may
    ``operation`` on ``records`` (record rules, e.g. another company's shop)."""
    env = records.env
    if env.su:
        return
    if not env.user.has_group(xmlid):
        raise AccessError(env._(
            "Only members of the group %(group)s may do this.", group=env.ref(xmlid).sudo().full_name
        ))
    records.check_access(operation)


def check_any_group(records, xmlids, operation="write"):
    """As :func:`check_group`, for a button open to members of any of the groups ``xmlids``."""
    env = records.env
    if env.su:
        return
    if not any(env.user.has_group(xmlid) for xmlid in xmlids):
        raise AccessError(env._(
            "Only members of the groups %(groups)s may do this.",
            groups=", ".join(env.ref(xmlid).sudo().full_name for xmlid in xmlids),
        ))
    records.check_access(operation)

"""19.0.3.0.0: one word per concept.

allegro.push becomes allegro.update, and the Char fields holding an id given
by Allegro (or a seller's SKU) lose their ``_id`` ending. Renamed in place,
before the registry loads, so that Odoo finds its tables, columns, fields and
xml ids under the new names and keeps every record (a field or model it did
not find would be created empty and the old one dropped). Pending update jobs
are pointed at the new model and channel so that they still run.

Every step only acts on what still has its old name: running it again, or on a
database made by this version, changes nothing.
"""
import json
import logging
import re

from odoo.tools import SQL
from odoo.tools.sql import column_exists, rename_column, table_exists

_logger = logging.getLogger(__name__)

MODULE = "allegro_connector"
OLD_MODEL, NEW_MODEL = "allegro.push", "allegro.update"
OLD_TABLE, NEW_TABLE = "allegro_push", "allegro_update"
# The transient status wizard's results (Many2many to the model): its table is
# named after both models; the rows are a wizard's, dropped with the old table.
OLD_WIZARD_REL = "allegro_push_allegro_status_wizard_rel"

# (model after the rename, old field, new field, stored in a column)
FIELDS = [
    (NEW_MODEL, "remote_id", "allegro_ref", True),
    ("allegro.order", "push_ids", "update_ids", False),
    ("allegro.order", "push_error_count", "update_error_count", False),
    ("allegro.order", "external_id", "allegro_ref", True),
    ("allegro.carrier", "code", "allegro_ref", True),
    ("allegro.order", "payment_id", "payment_ref", True),
    ("allegro.order", "buyer_id", "buyer_ref", True),
    ("allegro.order", "delivery_method_id", "delivery_method_ref", True),
    ("allegro.order", "pickup_point_id", "pickup_point_ref", True),
    ("allegro.order.line", "line_item_id", "allegro_ref", True),
    ("allegro.order.line", "offer_id", "offer_ref", True),
    ("allegro.order.line", "offer_external_id", "offer_sku", True),
    ("allegro.order.charge", "line_item_id", "line_item_ref", True),
    ("allegro.offer", "offer_id", "allegro_ref", True),
    ("allegro.offer", "external_id", "sku", True),
    ("allegro.delivery.method", "method_id", "allegro_ref", True),
    ("allegro.shop", "seller_id", "seller_ref", True),
    ("allegro.shop", "last_event_id", "order_event_cursor", True),
    ("allegro.shop", "client_id", "client_key", True),
    ("res.partner", "allegro_buyer_id", "allegro_buyer_ref", True),
    ("account.move", "allegro_invoice_id", "allegro_invoice_ref", True),
    # The same fields on the models that inherit them by delegation.
    ("res.users", "allegro_buyer_id", "allegro_buyer_ref", False),
    ("account.bank.statement.line", "allegro_invoice_id", "allegro_invoice_ref", False),
]
# (model, field, old stored value, new stored value)
SELECTION_VALUES = [
    ("allegro.order", "no_sale_reason", "allegro_fulfilment", "allegro_fulfillment"),
]
# Columns holding a model's name, in any module that may be installed.
MODEL_NAME_COLUMNS = [
    ("ir_model_data", "model"),
    ("ir_model_fields", "model"),
    ("ir_model_fields", "relation"),
    ("ir_ui_view", "model"),
    ("ir_act_window", "res_model"),
    ("ir_act_server", "model_name"),
    ("ir_act_report_xml", "model"),
    ("ir_filters", "model_id"),
    ("ir_attachment", "res_model"),
    ("ir_exports", "resource"),
    ("mail_message", "model"),
    ("mail_followers", "res_model"),
    ("mail_activity", "res_model"),
    ("mail_activity_type", "res_model"),
    ("mail_template", "model"),
    ("rating_rating", "res_model"),
]


def migrate(cr, version):
    if not version:
        return
    _rename_jobs(cr)
    _rename_model(cr)
    for model, old, new, stored in FIELDS:
        _rename_field(cr, model, old, new, stored)
    for model, field, old, new in SELECTION_VALUES:
        _rename_selection_value(cr, model, field, old, new)
    _rename_jobs(cr)
    _require_update_shop(cr)
    _cancel_task_rereads(cr)


def _require_update_shop(cr):
    """An update now names its shop itself (offer commands have no order): the column, until now
    the order's shop stored beside it, becomes required; set here so that Odoo finds it so."""
    if not column_exists(cr, NEW_TABLE, "shop_id"):
        return
    cr.execute(SQL("UPDATE %s u SET shop_id = o.shop_id FROM allegro_order o"
                   " WHERE u.order_id = o.id AND u.shop_id IS NULL", SQL.identifier(NEW_TABLE)))
    cr.execute(SQL("ALTER TABLE %s ALTER COLUMN shop_id SET NOT NULL", SQL.identifier(NEW_TABLE)))


def _cancel_task_rereads(cr):
    """Offer commands are updates now, each reading its own tasks: the shop's jobs that re-read
    the tasks of earlier commands are gone. Those still waiting are cancelled (the next
    reconciliation sends again whatever they would have found not done)."""
    if table_exists(cr, "queue_job"):
        cr.execute("""
            UPDATE queue_job SET state = 'cancelled'
             WHERE model_name = 'allegro.shop' AND method_name = '_job_read_command_tasks'
               AND state IN ('pending', 'enqueued', 'wait_dependencies')
        """)


def _rename_model(cr):
    if table_exists(cr, OLD_TABLE) and not table_exists(cr, NEW_TABLE):
        cr.execute(SQL("ALTER TABLE %s RENAME TO %s", SQL.identifier(OLD_TABLE), SQL.identifier(NEW_TABLE)))
        # Its sequence, indexes and constraints, which Odoo looks up by name.
        cr.execute("""
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind IN ('i', 'S') AND c.relname LIKE 'allegro\\_push\\_%%'
        """)
        for (name,) in cr.fetchall():
            cr.execute(SQL("ALTER INDEX %s RENAME TO %s" if not name.endswith("_seq") else
                           "ALTER SEQUENCE %s RENAME TO %s",
                           SQL.identifier(name), SQL.identifier(NEW_TABLE + name[len(OLD_TABLE):])))
        cr.execute("""
            SELECT conname FROM pg_constraint
             WHERE conrelid = %s::regclass AND conname LIKE 'allegro\\_push\\_%%'
        """, [NEW_TABLE])
        for (name,) in cr.fetchall():
            cr.execute(SQL("ALTER TABLE %s RENAME CONSTRAINT %s TO %s", SQL.identifier(NEW_TABLE),
                           SQL.identifier(name), SQL.identifier(NEW_TABLE + name[len(OLD_TABLE):])))
        _logger.info("Table %s renamed to %s", OLD_TABLE, NEW_TABLE)
    if table_exists(cr, OLD_WIZARD_REL):
        cr.execute(SQL("DROP TABLE %s", SQL.identifier(OLD_WIZARD_REL)))
        cr.execute("DELETE FROM ir_model_relation WHERE name = %s", [OLD_WIZARD_REL])

    cr.execute("UPDATE ir_model SET model = %s WHERE model = %s", [NEW_MODEL, OLD_MODEL])
    for table, column in MODEL_NAME_COLUMNS:
        if column_exists(cr, table, column):
            cr.execute(SQL("UPDATE %s SET %s = %s WHERE %s = %s", SQL.identifier(table), SQL.identifier(column),
                           NEW_MODEL, SQL.identifier(column), OLD_MODEL))
    # The xml ids of the model, its fields, views, actions, menu, access
    # rights, rule, job channel and job function.
    cr.execute("""
        UPDATE ir_model_data
           SET name = replace(replace(name, 'pushes', 'updates'), 'push', 'update')
         WHERE module = %s AND name LIKE '%%push%%'
    """, [MODULE])


def _rename_field(cr, model, old, new, stored):
    table = model.replace(".", "_")
    if stored and column_exists(cr, table, old) and not column_exists(cr, table, new):
        rename_column(cr, table, old, new)
        old_index, new_index = "%s__%s_index" % (table, old), "%s__%s_index" % (table, new)
        cr.execute("SELECT 1 FROM pg_class WHERE relname = %s AND relkind = 'i'", [old_index])
        if cr.fetchone():
            cr.execute(SQL("ALTER INDEX %s RENAME TO %s", SQL.identifier(old_index), SQL.identifier(new_index)))
    cr.execute("UPDATE ir_model_fields SET name = %s WHERE model = %s AND name = %s", [new, model, old])
    # A constraint's SQL names the column: PostgreSQL follows the rename, but
    # Odoo compares the SQL it wrote (kept as the constraint's comment, and in
    # ir_model_constraint) and would rebuild the constraint.
    if stored:
        cr.execute("""
            SELECT c.conname, d.description FROM pg_constraint c
              JOIN pg_description d ON d.objoid = c.oid
             WHERE c.conrelid = %s::regclass AND d.description ~ ('\\m' || %s || '\\M')
        """, [table, old])
        for name, definition in cr.fetchall():
            cr.execute(SQL("COMMENT ON CONSTRAINT %s ON %s IS %s", SQL.identifier(name), SQL.identifier(table),
                           re.sub(r"\b%s\b" % old, new, definition)))
    cr.execute("""
        UPDATE ir_model_constraint c
           SET definition = regexp_replace(c.definition, '\\m' || %s || '\\M', %s, 'g')
          FROM ir_model m
         WHERE m.id = c.model AND m.model = %s AND c.type = 'u' AND c.definition ~ ('\\m' || %s || '\\M')
    """, [old, new, model, old])
    prefix = "field_%s__" % table
    cr.execute("UPDATE ir_model_data SET name = %s WHERE module = %s AND model = 'ir.model.fields' AND name = %s",
               [prefix + new, MODULE, prefix + old])


def _rename_selection_value(cr, model, field, old, new):
    table = model.replace(".", "_")
    cr.execute(SQL("UPDATE %s SET %s = %s WHERE %s = %s", SQL.identifier(table), SQL.identifier(field), new,
                   SQL.identifier(field), old))
    cr.execute("""
        UPDATE ir_model_fields_selection s SET value = %s
          FROM ir_model_fields f
         WHERE f.id = s.field_id AND f.model = %s AND f.name = %s AND s.value = %s
    """, [new, model, field, old])
    prefix = "selection__%s__%s__" % (table, field)
    cr.execute("""
        UPDATE ir_model_data SET name = %s
         WHERE module = %s AND model = 'ir.model.fields.selection' AND name = %s
    """, [prefix + new, MODULE, prefix + old])


def _rename_jobs(cr):
    """Jobs of updates, whatever their state: queue_job runs a job on the
    model its ``records`` name and the method its function name says, in its
    channel, and finds a waiting one by its identity key."""
    if not table_exists(cr, "queue_job"):
        return
    # A job function is named "<model>.method".
    old_function, new_function = "<%s>." % OLD_MODEL, "<%s>." % NEW_MODEL
    cr.execute("SELECT id, records FROM queue_job WHERE model_name = %s", [OLD_MODEL])
    jobs = cr.fetchall()
    for job_id, records in jobs:
        # queue_job keeps the recordset as JSON text inside the jsonb value.
        value = json.loads(records) if isinstance(records, str) else records
        value["model"] = NEW_MODEL
        cr.execute("UPDATE queue_job SET records = %s::jsonb WHERE id = %s",
                   [json.dumps(json.dumps(value) if isinstance(records, str) else value), job_id])
    cr.execute("""
        UPDATE queue_job
           SET model_name = %(new)s,
               func_string = replace(func_string, %(old)s || '(', %(new)s || '('),
               channel_method_name = replace(channel_method_name, %(old_function)s, %(new_function)s),
               channel = CASE WHEN channel = 'root.allegro.push' THEN 'root.allegro.update' ELSE channel END,
               identity_key = replace(identity_key, %(old)s || ':', %(new)s || ':')
         WHERE model_name = %(old)s
    """, {"old": OLD_MODEL, "new": NEW_MODEL, "old_function": old_function, "new_function": new_function})
    if jobs:
        _logger.info("%s jobs of %s moved to %s", len(jobs), OLD_MODEL, NEW_MODEL)
    cr.execute("UPDATE queue_job_function SET name = replace(name, %s, %s) WHERE starts_with(name, %s)",
               [old_function, new_function, old_function])
    # The channel keeps its id (its xml id is renamed with the model's); jobs name it by its full name.
    cr.execute("UPDATE queue_job_channel SET name = 'update', complete_name = 'root.allegro.update'"
               " WHERE complete_name = 'root.allegro.push'")

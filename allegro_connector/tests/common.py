"""Test base for the addon: a real Allegro emulator over HTTP on 127.0.0.1.

The emulator lives in the repository's tests/ directory (not shipped with the
addon); the test command puts it on the Python path.
"""
import traceback
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import TransactionCase

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job

from allegro_emulator import AllegroEmulator, catalogue

CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret"


def create_committed_shop(registry, env, emulator, expires_in=5 * 3600, **values):
    """A connected shop committed on its own cursor, for tests where several
    real transactions work at once. Returns its id."""
    tokens = emulator.issue_tokens()
    with registry.cursor() as cr:
        shop = env(cr=cr)["allegro.shop"].create({
            "environment": "custom",
            "api_url": emulator.url,
            "auth_url": emulator.url + "/auth/oauth",
            "client_key": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "state": "connected",
            **values,
        })
        shop.sudo().token_ids.write({
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "expires_at": fields.Datetime.now() + timedelta(seconds=expires_in),
        })
        return shop.id


def delete_records_created_since(registry, env, models, max_ids):
    """Remove what a test committed on cursors of its own: the records of
    ``models`` with an id above ``max_ids[model]``, newest first."""
    with registry.cursor() as cr:
        env = env(cr=cr, su=True, context={"active_test": False})
        for model in models:
            records = env[model].search([("id", ">", max_ids[model])], order="id desc")
            if model == "res.partner":
                records = records.sorted(lambda p: not p.parent_id)  # children first
            records.unlink()


class WorkerKilled(Exception):
    """The worker's process ends right after Allegro took the request."""


class JobRunnerMixin:
    """Runs the connector's queued jobs in a test, as queue_job's runner would."""

    def kill_worker_after_request(self, record, model, method):
        """Perform the job ``record`` with its worker dying when the job reaches ``model``'s ``method``
        (after its request reached Allegro): nothing of the attempt is kept, and queue_job's runner
        sets the job pending again, one attempt counted."""
        job = Job.load(self.env, record.uuid)
        job.set_started()
        job.store()
        with patch.object(type(self.env[model]), method, autospec=True, side_effect=WorkerKilled):
            with self.assertRaises(WorkerKilled), self.env.cr.savepoint():
                job.perform()
        record.write({"state": "pending", "retry": record.retry + 1})
        self.env.invalidate_all()

    def send_updates(self):
        """What the job runner does: perform the connector's jobs that are due."""
        self.run_jobs()
        self.env.invalidate_all()

    def due_jobs(self, channel="root.allegro"):
        return self.env["queue.job"].sudo().search([
            ("state", "in", ("pending", "enqueued")),
            ("channel", "=like", channel + "%"),
            "|", ("eta", "=", False), ("eta", "<=", fields.Datetime.now()),
        ], order="priority, date_created, id")

    def make_jobs_due(self):
        """As if the waits between attempts had passed."""
        self.env["queue.job"].sudo().search([("state", "=", "pending")]).write({"eta": False})

    def run_jobs(self, channel="root.allegro"):
        """Perform due jobs as queue_job's runner and its controller do (each
        as the user who queued it, in a savepoint standing for its own
        transaction, postponed on RetryableJobError, failed with the on-fail
        hook on anything else), until none is due. Returns the jobs run."""
        done = self.env["queue.job"]
        for _round in range(10):
            records = self.due_jobs(channel) - done
            if not records:
                break
            done |= records
            for record in records:
                self._perform_job(Job.load(self.env, record.uuid))
        return done

    def _perform_job(self, job):
        job.set_started()
        job.store()
        try:
            with job.env.cr.savepoint():
                job.perform()
        except RetryableJobError as error:
            job.postpone(result=str(error), seconds=error.seconds)
            job.set_pending(reset_retry=False)
            job.store()
        except Exception as error:  # noqa: BLE001 - what the controller catches
            values = {"exc_info": traceback.format_exc(), "exc_name": type(error).__name__,
                      "exc_message": str(error)}
            job.set_failed(**values)
            job.store()
            job.on_fail(values)
        else:
            job.set_done()
            job.store()


class AllegroEmulatorCase(JobRunnerMixin, TransactionCase):
    """A fresh emulator per test; shops talk to it through their real client.

    The registry is put in test mode so that the cursors the connector opens
    (token updates, imports) share the test transaction and roll back with it.
    """

    def setUp(self):
        super().setUp()
        self.registry_enter_test_mode()
        self.emulator = AllegroEmulator(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, seller_login="test-seller", random_seed=7
        )
        self.emulator.start(host="127.0.0.1", port=0)
        self.addCleanup(self.emulator.stop)

    def shop_values(self, **values):
        return {
            "name": "Emulated shop",
            "environment": "custom",
            "api_url": self.emulator.url,
            "auth_url": self.emulator.url + "/auth/oauth",
            "client_key": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            **values,
        }

    def create_shop(self, **values):
        return self.env["allegro.shop"].create(self.shop_values(**values))

    @classmethod
    def create_catalogue_products(cls):
        """One storable product per emulator offer: SKU as internal reference, EAN as barcode."""
        Product = cls.env["product.product"]
        cls.products = Product
        for offer in catalogue.offers():
            cls.products |= Product.create({
                "name": offer["name"],
                "default_code": offer["external"]["id"],
                "barcode": offer["ean"],
                "type": "consu",
                "is_storable": True,
                "list_price": float(offer["price"]["amount"]),
            })

    @classmethod
    def create_stocked_catalogue(cls, quantity):
        """The catalogue's products with ``quantity`` of each in stock, and the
        shipping method "Kurier InPost" mapped to Allegro's carrier INPOST."""
        cls.create_catalogue_products()
        stock = cls.env.ref("stock.warehouse0").lot_stock_id
        for product in cls.products:
            cls.env["stock.quant"]._update_available_quantity(product, stock, quantity)
        cls.inpost = cls.env["allegro.carrier"].create({"allegro_ref": "INPOST", "name": "InPost"})
        cls.carrier = cls.env["delivery.carrier"].create({
            "name": "Kurier InPost",
            "product_id": cls.env["product.product"].create({"name": "InPost", "type": "service"}).id,
            "allegro_carrier_id": cls.inpost.id,
        })

    def import_orders(self, shop, sweep=False):
        """Run the import as the cron does, then read its results afresh."""
        summary = shop.env["allegro.importer"]._run_import(shop, sweep=sweep)
        self.env.invalidate_all()
        return summary

    def imported(self, **overrides):
        """An order added on Allegro, then imported into ``self.shop``."""
        form = self.emulator.add_order(**overrides)
        self.import_orders(self.shop)
        return self.allegro_order(self.shop, form["id"])

    def allegro_order(self, shop, form_id):
        return self.env["allegro.order"].search([("shop_id", "=", shop.id), ("allegro_ref", "=", form_id)])

    def create_connected_shop(self, expires_in=3600, **values):
        """A shop holding a token pair issued by the emulator."""
        shop = self.create_shop(**values)
        tokens = self.emulator.issue_tokens()
        shop.sudo().token_ids.write(
            {
                "access_token": tokens["access_token"],
                "refresh_token": tokens["refresh_token"],
                "expires_at": fields.Datetime.now() + timedelta(seconds=expires_in),
            }
        )
        shop.state = "connected"
        return shop

    def refreshes(self):
        """Token refreshes Allegro (the emulator) granted during this test."""
        return self.emulator.refresh_count

    def token_of(self, shop):
        self.env.invalidate_all()
        return shop.sudo().token_ids

    def emulator_calls(self, path):
        return [r for r in self.emulator.requests if r.path == path]

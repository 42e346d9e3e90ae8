"""Buyers' messages and post-purchase issues, over HTTP against the emulator,
each step as the person who does it: the scheduled read (no one), an Allegro
user answering, a user of another company who must see none of it."""
import logging

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import AllegroEmulatorCase
from .test_order_import import PAID, items

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
QUESTION = "Dzień dobry, kiedy wyślecie paczkę?"


@tagged("post_install", "-at_install")
class TestMessages(AllegroEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_stocked_catalogue(20)
        cls.seller = new_test_user(cls.env, "al_msg_seller",
                                   groups="sales_team.group_sale_salesman,allegro_connector.group_allegro_user")

    def setUp(self):
        super().setUp()
        self.shop = self.create_connected_shop(responsible_user_id=self.seller.id)
        self.order = self.imported(**PAID, lineItems=items((0, 1)), buyer={"login": "kupujacy-1"})

    def scheduled_run(self):
        """What the scheduled action does: a job per shop, run by the job runner."""
        self.env["allegro.shop"]._cron_read_messages()
        self.send_updates()

    def chatter(self, order, user=None):
        """The buyer's and seller's messages in the order's chatter, as ``user`` reads them."""
        order = order.with_user(user) if user else order
        return order.message_ids.filtered(lambda m: "Allegro" in (m.body or "") and m.message_type == "comment")

    def reply(self, order, text, attachments=()):
        """The Allegro user answers with *Reply to buyer on Allegro*."""
        action = order.with_user(self.seller).action_reply_to_buyer()
        files = self.env["ir.attachment"].with_user(self.seller).create(
            [{"name": name, "raw": data, "res_model": "allegro.reply.wizard", "res_id": 0}
             for name, data in attachments])
        wizard = self.env[action["res_model"]].with_user(self.seller).with_context(action["context"]).create(
            {"text": text, "attachment_ids": [(6, 0, files.ids)]})
        wizard.action_send()
        self.env.invalidate_all()
        return self.env["allegro.message"].search([("order_id", "=", order.id), ("direction", "=", "out")],
                                                  order="id desc", limit=1)

    def seller_messages(self, thread_ref):
        return [m for m in self.emulator.thread_messages(thread_ref) if not m["author"]["isInterlocutor"]]

    # ------------------------------------------------------------------
    # Messages in
    # ------------------------------------------------------------------

    def test_buyer_question_appears_in_the_order_chatter_within_one_run(self):
        self.emulator.buyer_message(self.order.allegro_ref, QUESTION, attachments=[("paragon.png", PNG)])
        self.scheduled_run()
        posts = self.chatter(self.order, self.seller)
        self.assertEqual(len(posts), 1)
        self.assertIn(QUESTION, posts.body)
        self.assertEqual(posts.author_id, self.order.partner_id, "written by the buyer, not by the seller")
        self.assertEqual(posts.subtype_id, self.env.ref("mail.mt_comment"), "not a note")
        self.assertEqual(posts.attachment_ids.mapped("name"), ["paragon.png"])
        self.assertEqual(posts.attachment_ids.raw, PNG)
        self.assertTrue(self.order.awaiting_answer)
        self.assertEqual(self.shop.unread_thread_count, 1)
        found = self.env["allegro.order"].with_user(self.seller).search([("awaiting_answer", "=", True)])
        self.assertEqual(found, self.order)
        sale = self.env["sale.order"].with_user(self.seller).search([("allegro_order_id.awaiting_answer", "=", True)])
        self.assertEqual(sale, self.order.sale_order_id)

        # The next runs find nothing new: nothing doubled.
        self.scheduled_run()
        self.assertEqual(len(self.chatter(self.order)), 1)
        self.assertEqual(self.env["allegro.message"].search_count([("shop_id", "=", self.shop.id)]), 1)

    def test_message_naming_no_order_goes_to_the_buyers_conversation(self):
        self.emulator.buyer_message(None, "Czy macie ten produkt w kolorze czerwonym?", login="ciekawski")
        self.scheduled_run()
        thread = self.env["allegro.thread"].with_user(self.seller).search([("buyer_login", "=", "ciekawski")])
        self.assertEqual(len(thread), 1)
        self.assertIn("czerwonym", thread.message_ids.filtered(lambda m: m.message_type == "comment").body)
        self.assertFalse(self.chatter(self.order))
        self.assertTrue(thread.awaiting_answer)

    def test_a_run_stopped_between_threads_loses_and_doubles_nothing(self):
        other = self.imported(**PAID, lineItems=items((1, 1)), buyer={"login": "kupujacy-2"})
        self.emulator.buyer_message(self.order.allegro_ref, "Pierwsze pytanie")
        self.emulator.buyer_message(other.allegro_ref, "Drugie pytanie")
        reader = self.env["allegro.message.reader"]
        self.assertEqual(reader._run(self.shop, slice_seconds=1e-9), "continues")
        self.env.invalidate_all()
        self.assertEqual(len(self.chatter(self.order)), 1, "the oldest thread first, committed")
        self.assertFalse(self.chatter(other))
        self.assertEqual(reader._run(self.shop), "done")
        self.env.invalidate_all()
        self.assertEqual(len(self.chatter(self.order)), 1)
        self.assertEqual(len(self.chatter(other)), 1)

    def test_empty_poll_costs_at_most_two_requests(self):
        self.emulator.buyer_message(self.order.allegro_ref, QUESTION)
        self.emulator.open_issue(self.order.allegro_ref, kind="DISPUTE")
        self.scheduled_run()
        self.emulator.reset_requests()
        self.scheduled_run()
        calls = [r for r in self.emulator.requests if not r.path.startswith("/auth")]
        self.assertLessEqual(len(calls), 2, [r.path for r in calls])
        # Something new costs more, and is found.
        self.emulator.buyer_message(self.order.allegro_ref, "Halo?")
        self.scheduled_run()
        self.assertIn("Halo?", " ".join(self.chatter(self.order).mapped("body")))
        self.assertEqual(self.env["allegro.message"].search_count([("shop_id", "=", self.shop.id)]), 3,
                         "question, the issue's first message, follow-up")

    # ------------------------------------------------------------------
    # Answers out
    # ------------------------------------------------------------------

    def test_reply_reaches_allegro_once_with_its_attachment(self):
        self.emulator.buyer_message(self.order.allegro_ref, QUESTION)
        self.scheduled_run()
        thread = self.env["allegro.thread"].search([("shop_id", "=", self.shop.id)])
        message = self.reply(self.order, "Paczka wyjdzie jutro.", [("faktura.pdf", b"%PDF-1.4 test")])
        self.assertEqual(message.state, "pending")
        self.assertFalse(self.order.awaiting_answer, "answered, on its way")
        self.send_updates()
        self.assertEqual(message.state, "sent", message.error)
        sent = self.seller_messages(thread.allegro_ref)
        self.assertEqual([m["text"] for m in sent], ["Paczka wyjdzie jutro."])
        self.assertEqual([a["fileName"] for a in sent[0]["attachments"]], ["faktura.pdf"])
        attachment_id = sent[0]["attachments"][0]["url"].rsplit("/", 1)[-1]
        self.assertEqual(self.emulator.store.messaging.attachments.files[attachment_id]["data"], b"%PDF-1.4 test")
        # Read back by the next run: kept once.
        self.scheduled_run()
        self.assertEqual(self.env["allegro.message"].search_count([("direction", "=", "out")]), 1)
        self.assertFalse(self.order.awaiting_answer)

    def test_reply_whose_answer_was_lost_is_sent_once(self):
        self.emulator.buyer_message(self.order.allegro_ref, QUESTION)
        self.scheduled_run()
        thread = self.env["allegro.thread"].search([("shop_id", "=", self.shop.id)])
        self.emulator.faults.lose_answer(count=1, path_prefix="/messaging/threads/", method="POST", status=504)
        message = self.reply(self.order, "Wysłane dziś.")
        self.send_updates()
        self.assertEqual(message.state, "pending", "Allegro's answer was lost")
        self.assertEqual(len(self.seller_messages(thread.allegro_ref)), 1, "but Allegro took it")
        self.make_jobs_due()
        self.send_updates()
        self.assertEqual(message.state, "sent", message.error)
        self.assertEqual(len(self.seller_messages(thread.allegro_ref)), 1, "not a second time")
        self.assertEqual(message.allegro_ref, self.seller_messages(thread.allegro_ref)[0]["id"])

    def test_refused_message_shows_allegros_reason_on_the_order(self):
        self.emulator.buyer_message(self.order.allegro_ref, QUESTION)
        self.scheduled_run()
        message = self.reply(self.order, "Zobacz https://example.com/sklep")
        self.send_updates()
        self.assertEqual(message.state, "failed")
        self.assertIn("link", message.error)
        notes = self.order.message_ids.filtered(lambda m: "refused" in (m.body or ""))
        self.assertIn(message.error, notes.body)
        self.assertTrue(self.order.needs_attention)
        self.assertTrue(self.order.awaiting_answer, "the buyer still waits")

    def test_first_message_to_a_buyer_who_never_wrote(self):
        message = self.reply(self.order, "Dziękujemy za zakup!")
        self.send_updates()
        self.assertEqual(message.state, "sent", message.error)
        thread = self.emulator.threads[0]
        self.assertEqual(thread["interlocutor"]["login"], "kupujacy-1")
        self.assertEqual(message.thread_id.allegro_ref, thread["id"])

    def test_marking_read_in_odoo_marks_it_on_allegro(self):
        self.emulator.buyer_message(self.order.allegro_ref, QUESTION)
        self.scheduled_run()
        self.assertTrue(self.order.thread_unread)
        self.order.with_user(self.seller).action_mark_thread_read()
        self.env.invalidate_all()
        self.assertTrue(self.emulator.threads[0]["read"])
        self.assertEqual(self.shop.unread_thread_count, 0)

    # ------------------------------------------------------------------
    # Issues
    # ------------------------------------------------------------------

    def test_issue_is_an_activity_with_allegros_deadline_and_is_answered_from_odoo(self):
        claim = self.emulator.open_issue(self.order.allegro_ref, kind="CLAIM", text="Produkt jest uszkodzony.")
        self.scheduled_run()
        issue = self.env["allegro.issue"].with_user(self.seller).search([("order_id", "=", self.order.id)])
        self.assertEqual((issue.kind, issue.status), ("CLAIM", "CLAIM_SUBMITTED"))
        self.assertIn("REFUND", issue.expectations)
        activity = self.order.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.seller)
        self.assertEqual(str(activity.date_deadline), claim["decisionDueDate"][:10])
        self.assertIn("uszkodzony", " ".join(self.chatter(self.order).mapped("body")))

        # The seller answers in the issue's chat.
        wizard = self.env["allegro.issue.answer"].with_user(self.seller).with_context(
            issue.action_answer()["context"]).create({"text": "Prosimy o zdjęcia."})
        wizard.action_send()
        self.send_updates()
        chat = self.emulator.issue_chat(claim["id"])
        self.assertEqual([m["text"] for m in chat if m["author"]["role"] == "SELLER"], ["Prosimy o zdjęcia."])
        self.assertFalse(self.order.activity_ids, "answered: the activity is done")
        self.scheduled_run()
        self.assertEqual(len(issue.message_line_ids.filtered(lambda m: m.direction == "out")), 1)

        # The buyer writes again: a new activity; the seller accepts the claim, which closes it.
        self.emulator.buyer_issue_message(claim["id"], "Zdjęcia w załączniku.", attachments=[("szkoda.png", PNG)])
        self.scheduled_run()
        self.assertEqual(len(self.order.activity_ids), 1)
        self.assertEqual(self.order.message_ids.attachment_ids.filtered(lambda a: a.name == "szkoda.png").raw, PNG)
        self.env["allegro.issue.answer"].with_user(self.seller).create(
            {"issue_id": issue.id, "text": "Zwracamy pieniądze.", "decision": "ACCEPTED_REFUND"}).action_send()
        self.env.invalidate_all()
        self.assertEqual(self.emulator.issue(claim["id"])["currentState"]["status"], "CLAIM_ACCEPTED")
        self.assertFalse(issue.is_open)
        self.assertFalse(self.order.activity_ids)

    def test_closed_issue_ends_its_activity(self):
        dispute = self.emulator.open_issue(self.order.allegro_ref, kind="DISPUTE")
        self.scheduled_run()
        self.assertEqual(len(self.order.activity_ids), 1)
        self.emulator.move_issue(dispute["id"], "DISPUTE_CLOSED", chat_active=False)
        self.scheduled_run()
        issue = self.env["allegro.issue"].search([("allegro_ref", "=", dispute["id"])])
        self.assertEqual(issue.status, "DISPUTE_CLOSED")
        self.assertFalse(self.order.activity_ids)

    # ------------------------------------------------------------------
    # Another company
    # ------------------------------------------------------------------

    def test_a_user_of_another_company_sees_none_of_it(self):
        self.emulator.buyer_message(self.order.allegro_ref, QUESTION, attachments=[("paragon.png", PNG)])
        self.emulator.open_issue(self.order.allegro_ref, kind="CLAIM")
        self.scheduled_run()
        company_b = self.env["res.company"].create({"name": "Allegro B", "currency_id": self.env.ref("base.PLN").id})
        other = new_test_user(self.env, "al_msg_other", company_id=company_b.id, company_ids=[(6, 0, company_b.ids)],
                              groups="sales_team.group_sale_salesman,allegro_connector.group_allegro_user")
        for model in ("allegro.thread", "allegro.message", "allegro.issue", "allegro.order"):
            self.assertFalse(self.env[model].with_user(other).search([]), model)
        posts = self.env["mail.message"].with_user(other).search(
            [("model", "=", "allegro.order"), ("res_id", "=", self.order.id)])
        self.assertFalse(posts)
        attachments = self.env["ir.attachment"].with_user(other).search([("name", "=", "paragon.png")])
        self.assertFalse(attachments)
        with self.assertRaises(AccessError):
            self.order.with_user(other).action_reply_to_buyer()
        portal = new_test_user(self.env, "al_msg_portal", groups="base.group_portal")
        with self.assertRaises(AccessError):
            self.env["allegro.message"].with_user(portal).search([])

    def test_reading_writes_no_message_text_to_the_log(self):
        self.emulator.buyer_message(self.order.allegro_ref, "Mój PESEL to 90010112345")
        with self.assertLogs("odoo.addons.allegro_connector", level="DEBUG") as logs:
            self.scheduled_run()
            # assertLogs needs one line at least, whatever the run logged.
            logging.getLogger("odoo.addons.allegro_connector").debug("end of run")
        self.assertFalse([line for line in logs.output if "90010112345" in line])
        self.assertIn("PESEL", self.chatter(self.order).body)

    def test_a_thread_allegro_refuses_is_flagged_and_read_again_later(self):
        other = self.imported(**PAID, lineItems=items((1, 1)), buyer={"login": "kupujacy-2"})
        self.emulator.buyer_message(self.order.allegro_ref, "Pierwsze pytanie")
        refused = self.emulator.buyer_message(other.allegro_ref, "Drugie pytanie")
        self.emulator.faults.add(403, count=None, path_prefix="/messaging/threads/%s/messages" % refused["thread"]["id"])
        self.scheduled_run()
        thread = self.env["allegro.thread"].search([("buyer_login", "=", "kupujacy-2")])
        self.assertTrue(thread.sync_error)
        self.assertEqual(len(self.chatter(self.order)), 1, "the other conversation was read")
        self.assertFalse(self.chatter(other))
        self.emulator.faults.clear()
        self.scheduled_run()
        self.assertFalse(thread.sync_error)
        self.assertIn("Drugie pytanie", self.chatter(other).body)

    def test_an_issue_in_a_status_odoo_does_not_know_is_kept(self):
        dispute = self.emulator.open_issue(self.order.allegro_ref, kind="DISPUTE")
        self.scheduled_run()
        self.emulator.move_issue(dispute["id"], "DISPUTE_ESCALATED_TO_MARS", type="SOMETHING_NEW")
        self.scheduled_run()
        issue = self.env["allegro.issue"].search([("allegro_ref", "=", dispute["id"])])
        self.assertEqual((issue.status, issue.kind, issue.status_label),
                         ("DISPUTE_ESCALATED_TO_MARS", "SOMETHING_NEW", "DISPUTE_ESCALATED_TO_MARS"))
        self.assertEqual(len(self.order.activity_ids), 1, "not known to be closed: still to answer")

    def test_reply_whose_worker_died_after_sending_is_not_sent_again(self):
        self.emulator.buyer_message(self.order.allegro_ref, QUESTION)
        self.scheduled_run()
        thread = self.env["allegro.thread"].search([("shop_id", "=", self.shop.id)])
        message = self.reply(self.order, "Już wysłane.")
        # Its job's request reached Allegro, then the worker died before committing:
        # the job runner queues it again with one more try counted.
        self.shop._allegro_client().send_message(thread.allegro_ref, "Już wysłane.")
        message.job_id.sudo().retry = 1
        self.send_updates()
        sent = self.seller_messages(thread.allegro_ref)
        self.assertEqual(len(sent), 1)
        self.assertEqual((message.state, message.allegro_ref), ("sent", sent[0]["id"]))

import { registry } from "@web/core/registry";

// An Allegro user opens an order, reads the buyer's question in the chatter
// and answers it on Allegro with the dedicated action (not an Odoo note).
registry.category("web_tour.tours").add("allegro_reply_to_buyer", {
    steps: () => [
        {
            content: "The buyer's question is in the order's chatter",
            trigger: ".o-mail-Message:contains(Kiedy wyślecie paczkę?)",
        },
        {
            content: "The order says the buyer is waiting",
            trigger: ".o_form_view .alert-warning:contains(waiting for an answer)",
        },
        {
            content: "Reply to buyer on Allegro",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_reply_to_buyer]",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=text] textarea",
            run: "edit Paczka wyjdzie jutro rano.",
        },
        {
            trigger: ".modal button[name=action_send]",
            run: "click",
        },
        {
            content: "The reply shows in the chatter as sent to the buyer",
            trigger: ".o-mail-Message:contains(Sent to the buyer on Allegro):contains(Paczka wyjdzie jutro rano.)",
        },
    ],
});

import { registry } from "@web/core/registry";

// A warehouse user validates the delivery of an Allegro order shipped with
// Allegro: no tracking number to type, the parcel is ordered from Allegro.
registry.category("web_tour.tours").add("allegro_ship_with_allegro", {
    steps: () => [
        {
            content: "The delivery is ready",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains(Ready)",
        },
        {
            content: "Validate",
            trigger: ".o_form_view .o_statusbar_buttons button[name=button_validate]",
            run: "click",
        },
        {
            content: "The delivery is done",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains(Done)",
        },
    ],
});

// Once the parcel is created, the delivery holds its tracking link and label.
registry.category("web_tour.tours").add("allegro_ship_with_allegro_label", {
    steps: () => [
        {
            content: "The tracking link",
            trigger: ".o_form_view button[name=open_website_url]",
        },
        {
            content: "The label in the chatter",
            trigger: ".o-mail-Chatter .o-mail-AttachmentContainer[title^='LabelShipping-allegro']",
        },
    ],
});

import { registry } from "@web/core/registry";

// A warehouse user enters the tracking number on the delivery of an Allegro
// order and validates it.
registry.category("web_tour.tours").add("allegro_validate_delivery", {
    steps: () => [
        {
            content: "The delivery is ready",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains(Ready)",
        },
        {
            content: "Open the tab holding the shipping information",
            trigger: ".o_notebook .nav-link:contains(Additional Info)",
            run: "click",
        },
        {
            content: "Enter the carrier's tracking number",
            trigger: ".o_form_view .o_field_widget[name=carrier_tracking_ref] input",
            run: "edit 620000000777",
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

import { registry } from "@web/core/registry";

// A Polish-speaking seller opens an Allegro order and starts processing it:
// labels, statuses and messages are in Polish, statuses in the words sellers use.
registry.category("web_tour.tours").add("allegro_order_in_polish", {
    steps: () => [
        {
            content: "The order's screen speaks Polish",
            trigger: ".o_breadcrumb:contains(Zamówienia Allegro)",
        },
        {
            trigger: ".o_form_view .o_inner_group:has(.o_horizontal_separator:contains(Kwoty)) label:contains(Do zapłaty)",
        },
        {
            content: "Seller-facing statuses in the sellers' words",
            trigger: ".o_form_view .o_field_widget[name=payment_status]:contains(Opłacone)",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=seller_status]:contains(Nowe)",
        },
        {
            content: "Start processing",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_start_processing]:contains(Rozpocznij realizację)",
            run: "click",
        },
        {
            trigger: ".o_notification:contains(Zaktualizowano Allegro.)",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=seller_status]:contains(W realizacji)",
        },
    ],
});

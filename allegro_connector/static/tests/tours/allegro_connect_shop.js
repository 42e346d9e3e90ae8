import { registry } from "@web/core/registry";

// An administrator connects the shop the test prepared (device flow against
// the emulator), then fetches its orders and opens them from the shop.
registry.category("web_tour.tours").add("allegro_connect_shop", {
    steps: () => [
        {
            content: "Open the shop",
            trigger: ".o_data_row .o_data_cell:contains(Tour shop)",
            run: "click",
        },
        {
            content: "Start the device flow",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_connect]:contains(Connect)",
            run: "click",
        },
        {
            content: "Allegro's code is shown for the seller to confirm",
            trigger: ".o_form_view .alert-info:contains(confirm the code) strong .o_field_widget:not(:empty)",
        },
        {
            content: "The seller confirmed on Allegro: collect the tokens",
            trigger: ".o_form_view button[name=action_check_authorization]",
            run: "click",
        },
        {
            content: "Connected",
            trigger: ".o_notification:contains(Connected to Allegro as tour-seller)",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=seller_login]:contains(tour-seller)",
        },
        {
            content: "Fetch the orders waiting on Allegro",
            trigger: ".o_form_view button[name=action_fetch_orders]",
            run: "click",
        },
        {
            content: "The import says what it brought",
            trigger: ".o_notification:has(.o_notification_bar.bg-success):contains('2 new, 0 updated, 0 failed')",
        },
        {
            content: "Open the shop's orders",
            trigger: ".o_form_view .oe_stat_button[name=action_view_orders]:contains(2)",
            run: "click",
        },
        {
            content: "Both orders are listed",
            trigger: ".o_list_view:has(.o_data_row:contains(tour-buyer-1)):has(.o_data_row:contains(tour-buyer-2))",
        },
    ],
});

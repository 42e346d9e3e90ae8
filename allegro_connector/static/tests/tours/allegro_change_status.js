import { registry } from "@web/core/registry";

// An Allegro user selects orders in the list and changes their Allegro status
// at once; the wizard shows how each one fared.
registry.category("web_tour.tours").add("allegro_change_status", {
    steps: () => [
        {
            content: "Select the first order",
            trigger: ".o_data_row:contains(tour-buyer-1) .o_list_record_selector input",
            run: "click",
        },
        {
            content: "Select the second order",
            trigger: ".o_data_row:contains(tour-buyer-2) .o_list_record_selector input",
            run: "click",
        },
        {
            content: "Open the actions of the selection",
            trigger: ".o_control_panel .o_cp_action_menus button:has(.fa-cog)",
            run: "click",
        },
        {
            trigger: ".o-dropdown--menu .o-dropdown-item:contains(Change Allegro status)",
            run: "click",
        },
        {
            content: "Both orders are in the wizard",
            trigger: ".modal .o_field_widget[name=order_ids] .o_tag:nth-child(2)",
        },
        {
            content: "Choose Ready for shipment",
            trigger: ".modal .o_field_widget[name=status] input",
            run: "click",
        },
        {
            trigger: ".o_select_menu_item:contains(Ready for shipment)",
            run: "click",
        },
        {
            trigger: ".modal button[name=action_apply]",
            run: "click",
        },
        {
            content: "Each order shows its result: sent",
            trigger: ".modal .o_field_widget[name=result_ids] .o_data_row:nth-child(2)",
        },
        {
            trigger: ".modal .o_field_widget[name=result_ids]:not(:has(.o_data_row:not(:contains(Sent))))",
        },
        {
            trigger: ".modal button.btn-secondary:contains(Close)",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
    ],
});

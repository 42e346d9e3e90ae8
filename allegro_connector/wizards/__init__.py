from . import allegro_map_products

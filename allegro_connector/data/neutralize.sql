-- A copied database must never act on the real Allegro accounts.
UPDATE allegro_shop SET active = false;
UPDATE allegro_shop_token SET access_token = NULL, refresh_token = NULL, device_code = NULL;

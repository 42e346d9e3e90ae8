"""An Allegro REST API and OAuth emulator: a real local HTTP server for tests and demos.

    from allegro_emulator import AllegroEmulator
    with AllegroEmulator(random_seed=1) as emu:
        emu.seed_demo()
        tokens = emu.issue_tokens()
        ...  # talk to emu.url (REST API) and emu.auth_url (OAuth)
"""

from .emulator import AllegroEmulator

__all__ = ["AllegroEmulator"]

"""Plain tests of the logic: `python -m pytest` (or `python test_app.py`).
Outside airlock the host calls raise NotInAirlock instead of crashing."""

import unittest

from airlock_sdk import ActionError, NotInAirlock, config

from app import greet


class Greet(unittest.TestCase):
    def test_greets_by_name_and_refuses_an_empty_one(self):
        self.assertEqual(greet("Hello", "Ada"), {"greeting": "Hello, Ada!"})
        with self.assertRaises(ActionError):
            greet("Hello", " ")

    def test_outside_airlock_host_calls_raise(self):
        with self.assertRaises(NotInAirlock):
            config.get("greeting")


if __name__ == "__main__":
    unittest.main()

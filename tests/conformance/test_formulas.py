"""Unit tests of formulas.py's pure functions (no Salt, no brine-call):
the timestamp mask, the Salt-crash classification and the masking of what
Salt does not reproduce between two runs of the same command.

Run: python3 -m unittest discover -s tests/conformance -p 'test_*.py'
(the cargo test `formulas_script_unit_tests` in tests/e2e runs it in CI).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import formulas  # noqa: E402  (needs the path above)

MASK = formulas.NONDETERMINISTIC
CRASH = formulas.SALT_CRASH + "\n  File ...\nKeyError: 'buser'\n"


def applied(states, retcode=1):
    """An apply document as lib.record makes it."""
    return {"retcode": retcode, "out": {"local": states}}


def alternatives_state(priority):
    """A state of prometheus-formula's shape: a number drawn by `|random`
    in the state ID, the command line and an integer argument."""
    tag = f"cmd_|-prometheus-alt-{priority}_|-update-alternatives --install x {priority}_|-run"
    return {tag: {"__id__": f"prometheus-alt-{priority}", "priority": priority,
                  "comment": "Command would have been executed", "result": None}}


class MaskTimestamps(unittest.TestCase):
    def test_dates_with_a_time_in_strings_and_keys_are_masked(self):
        doc = {"backup 2026-12-07_04:41:02": ["at 26-12-07 04:41:02", "2026-12-07T04:41:02.5"]}
        self.assertEqual(
            formulas.mask_timestamps(doc),
            {"backup @TIMESTAMP@": ["at @TIMESTAMP@", "@TIMESTAMP@.5"]},
        )

    def test_a_date_alone_and_other_values_stay(self):
        doc = {"day": "2026-12-07", "n": 20261207, "ok": True, "none": None}
        self.assertEqual(formulas.mask_timestamps(doc), doc)


class OnlySaltCrashes(unittest.TestCase):
    def crashed(self, comment_brine="User 'buser' is not available", result_brine=False):
        salt = applied({"git_|-a_|-a_|-config_set": {"result": False, "comment": CRASH},
                        "file_|-b_|-b_|-managed": {"result": True, "comment": "ok"}})
        brine = applied({"git_|-a_|-a_|-config_set": {"result": result_brine,
                                                      "comment": comment_brine},
                         "file_|-b_|-b_|-managed": {"result": True, "comment": "ok"}})
        return salt, brine

    def test_counts_states_where_only_salt_crashed(self):
        self.assertEqual(formulas.only_salt_crashes(*self.crashed()), 1)

    def test_a_crash_with_a_different_result_is_a_difference(self):
        self.assertEqual(formulas.only_salt_crashes(*self.crashed(result_brine=None)), 0)

    def test_another_difference_beside_the_crash_is_a_difference(self):
        salt, brine = self.crashed()
        brine["out"]["local"]["file_|-b_|-b_|-managed"]["comment"] = "other"
        self.assertEqual(formulas.only_salt_crashes(salt, brine), 0)

    def test_different_retcodes_are_a_difference(self):
        salt, brine = self.crashed()
        brine["retcode"] = 0
        self.assertEqual(formulas.only_salt_crashes(salt, brine), 0)

    def test_does_not_modify_its_arguments(self):
        salt, brine = self.crashed()
        formulas.only_salt_crashes(salt, brine)
        self.assertTrue(salt["out"]["local"]["git_|-a_|-a_|-config_set"]["comment"].startswith(
            formulas.SALT_CRASH))


class MaskNondeterminism(unittest.TestCase):
    def test_random_number_in_values_and_state_ids_is_masked_on_all_three(self):
        a, b, c = (applied(alternatives_state(n)) for n in (4242, 71, 90210))
        ma, mb, mc, fields = formulas.mask_nondeterminism(a, b, c)
        self.assertEqual(ma, mb)
        self.assertEqual(ma, mc)
        (tag, state), = ma["out"]["local"].items()
        self.assertEqual(tag, f"cmd_|-prometheus-alt-{MASK}_|-update-alternatives --install x {MASK}_|-run")
        self.assertEqual(state["__id__"], f"prometheus-alt-{MASK}")
        self.assertEqual(state["priority"], MASK)
        self.assertEqual(fields, 3)  # the state key, __id__, priority

    def test_salt_runs_that_agree_mask_nothing(self):
        a = applied(alternatives_state(7))
        c = applied(alternatives_state(8))
        ma, _, mc, fields = formulas.mask_nondeterminism(a, a, c)
        self.assertEqual((ma, mc, fields), (a, c, 0))

    def test_brine_value_of_another_type_is_not_masked(self):
        a = {"out": {"priority": 12}}
        b = {"out": {"priority": 99}}
        c = {"out": {"priority": "12"}}
        ma, _, mc, _ = formulas.mask_nondeterminism(a, b, c)
        self.assertEqual(ma, {"out": {"priority": MASK}})
        self.assertEqual(mc, c)

    def test_brine_missing_value_stays_missing(self):
        a, b, c = {"x": 1, "y": 2}, {"x": 3, "y": 2}, {"y": 2}
        ma, _, mc, _ = formulas.mask_nondeterminism(a, b, c)
        self.assertEqual(ma, {"x": MASK, "y": 2})
        self.assertEqual(mc, {"y": 2})

    def test_brine_string_needs_a_token_of_the_same_kind(self):
        a, b = {"n": "install x 12"}, {"n": "install x 345"}
        self.assertEqual(formulas.mask_nondeterminism(a, b, {"n": "install x 6"})[2],
                         {"n": f"install x {MASK}"})
        self.assertEqual(formulas.mask_nondeterminism(a, b, {"n": "install x abc"})[2],
                         {"n": "install x abc"})

    def test_brine_string_keeps_its_other_differences(self):
        a, b = {"n": "install x 12"}, {"n": "install x 345"}
        ma, _, mc, _ = formulas.mask_nondeterminism(a, b, {"n": "remove x 6"})
        self.assertEqual(mc, {"n": f"remove x {MASK}"})
        self.assertNotEqual(ma, mc)

    def test_bool_is_not_a_number(self):
        a, b, c = {"v": 1}, {"v": 2}, {"v": True}
        self.assertEqual(formulas.mask_nondeterminism(a, b, c)[2], {"v": True})

    def test_keys_that_would_mask_alike_stay_unmasked(self):
        a = {"id-1": 1, "id-2": 2}
        b = {"id-3": 1, "id-4": 2}
        ma, mb, _, _ = formulas.mask_nondeterminism(a, b, {})
        # The first pair is masked; the second would collide with it.
        self.assertIn(f"id-{MASK}", ma)
        self.assertEqual(len(ma), 2)
        self.assertEqual(len(mb), 2)

    def test_lists_of_different_lengths_are_masked_whole(self):
        a, b, c = {"l": [1]}, {"l": [1, 2]}, {"l": [5, 6, 7]}
        self.assertEqual(formulas.mask_nondeterminism(a, b, c)[2], {"l": MASK})


class CompareCommand(unittest.TestCase):
    def test_same_after_masking_counts_as_identical_and_says_so(self):
        a, b, c = (applied(alternatives_state(n)) for n in (4242, 71, 90210))
        entry = formulas.compare_command(a, b, c)
        self.assertTrue(entry["same"])
        self.assertEqual(entry["salt_varies"], 3)
        self.assertEqual(formulas.cell(entry), "same (rc 1) (Salt's own output varies in 3 field(s))")

    def test_without_a_second_salt_run_a_difference_stays(self):
        a, c = (applied(alternatives_state(n)) for n in (4242, 90210))
        entry = formulas.compare_command(a, None, c)
        self.assertFalse(entry["same"])
        self.assertNotIn("salt_varies", entry)

    def test_salt_crash_reported_apart_not_identical(self):
        salt = applied({"t_|-a_|-a_|-f": {"result": False, "comment": CRASH}})
        brine = applied({"t_|-a_|-a_|-f": {"result": False, "comment": "clean error"}})
        entry = formulas.compare_command(salt, salt, brine)
        self.assertFalse(entry["same"])
        self.assertEqual(entry["salt_crashes"], 1)
        self.assertEqual(formulas.cell(entry), "same but Salt crashes in 1 state(s) (rc 1)")


if __name__ == "__main__":
    unittest.main()

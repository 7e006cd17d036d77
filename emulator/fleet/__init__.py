"""Fleets: a campaign over many homes, its results in SQLite, its report, Dask scale-out.

A campaign file (`campaign.py`) says how many homes of which kinds, the option per device type,
the image, waves, retries and faults; `homes.py` turns each home into a `Scenario` of the one
engine and runs it; `runner.py` runs every home here or over Dask workers and hands the results
on in home order; `store.py` writes them (and the firmware inventory) to SQLite a home at a
time; `report.py` turns a results database into a summary, an HTML page and PNG plots. This
package never decides what a device, the hub or the head-end does (`emulator.device` and the
scenario engine do). docs/fleet.md describes the file, the CLI and the database.
"""

from emulator.fleet.campaign import DEFAULT_CAMPAIGN, FleetCampaign, load_campaign
from emulator.fleet.homes import HomeResult, home_seed, kinds, run_home, scenario_for
from emulator.fleet.runner import FleetError, measure, run_fleet

__all__ = [
    "DEFAULT_CAMPAIGN",
    "FleetCampaign",
    "FleetError",
    "HomeResult",
    "home_seed",
    "kinds",
    "load_campaign",
    "measure",
    "run_fleet",
    "run_home",
    "scenario_for",
]

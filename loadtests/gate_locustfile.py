"""A busy gate: lanes of several terminals letting drivers collect their containers.

Run by `loadtests.bench_gate`, which prepares the releases and writes the plan; by hand:

    locust -f loadtests/gate_locustfile.py --headless --host http://127.0.0.1:8002 \\
        --gate-plan plan.json --lane-rate 2 -u 40 -r 40 --run-time 20s

The plan (JSON) names the identity service, each terminal's access token with the
releases waiting at it, and each driver's person token. Each locust user is one gate lane
of one terminal (lanes are spread evenly over the terminals). A pickup is:

1. the driver's gate pass: prefetched by bench_gate just before the step (in the plan), or
   fetched here from the identity service (`gate pass (identity)`: timed under its own
   name, apart from the gate's figures);
2. the lane asks the release service for a decision (`decision`), for which the service
   makes a verifiable draw: only a 201 with decision `release` counts as success; `inspect`
   and `deny` are failures named by the decision and its reason codes, except that with
   `--inspect-expected` (the service runs with an inspect probability above zero) an
   `inspect` for a `random_inspection` is a success too;
3. after a `release`, the lane records the gate-out (`complete`): only a 200 counts.

Pacing is constant throughput per lane: each lane keeps a timetable of one pickup every
1 / `--lane-rate` seconds, and the lanes' timetables are staggered evenly over that period,
so the offered rate is lanes x lane rate pickups per second, spread evenly in time. When
the service is slower than the timetable, a lane falls behind (it serves one driver at a
time) and the achieved rate shows it. Locust's own `constant_throughput` is not used: locust
starts all users of a run in the same instant and `constant_throughput` keeps each user's
rhythm anchored to its start, so every lane would ask at the same moment, once per period;
eight lanes at 10 pickups/s then queued behind each other (decision p50 100 ms instead of
18 ms with the same rate from one lane). Real trucks arrive less evenly than this
timetable: the same mean rate with random arrivals gives somewhat higher percentiles.
"""

import json
import time
from collections import deque
from pathlib import Path
from typing import Any

from locust import User, events, task
from locust.argument_parser import LocustArgumentParser
from locust.contrib.fasthttp import FastHttpSession, FastHttpUser
from locust.exception import StopUser

GATE_PASS = "gate pass (identity)"
DECISION = "decision"
COMPLETE = "complete"
RANDOM_INSPECTION = "random_inspection"  # the reason of a decision the draw made `inspect`


def _arguments(parser: LocustArgumentParser) -> None:
    parser.add_argument("--gate-plan", default="", help="the plan written by bench_gate (JSON)")
    parser.add_argument("--lane-rate", type=float, default=1.0, help="pickups per lane per second")
    parser.add_argument(
        "--inspect-expected",
        action="store_true",
        help="a decision 'inspect' for a random inspection is an expected answer, not a failure",
    )


# EventHook.add_listener carries no annotations in locust 2.x.
events.init_command_line_parser.add_listener(_arguments)  # type: ignore[no-untyped-call]


class Plan:
    """The plan, read once per process; each terminal's pickups are taken in turn."""

    def __init__(self, path: str) -> None:
        document: dict[str, Any] = json.loads(Path(path).read_text())
        self.identity_url: str = document["identity_url"]
        self.driver_tokens: dict[str, str] = document["drivers"]
        self.terminals: list[str] = [terminal["party_id"] for terminal in document["terminals"]]
        self.tokens: dict[str, str] = {
            terminal["party_id"]: terminal["token"] for terminal in document["terminals"]
        }
        self.pickups: dict[str, deque[dict[str, str]]] = {
            terminal["party_id"]: deque(terminal["pickups"]) for terminal in document["terminals"]
        }
        self.lanes_started = 0

    def next_lane(self) -> tuple[int, str]:
        """The next lane's number and terminal: lanes go to the terminals in turn."""
        number = self.lanes_started
        self.lanes_started += 1
        return number, self.terminals[number % len(self.terminals)]


_plans: dict[str, Plan] = {}


def plan_of(user: User) -> Plan:
    """The plan named on the command line (read on first use)."""
    path: str = user.environment.parsed_options.gate_plan
    if not path:
        raise StopUser("no --gate-plan given")
    if path not in _plans:
        _plans[path] = Plan(path)
    return _plans[path]


def refusal(response: Any) -> str:
    """A failed answer as 'status code' (the problem document's), or the transport error."""
    if not response.status_code:
        return f"no answer: {response.error!r}"
    try:
        code = response.json().get("code", "")
    except (ValueError, TypeError, AttributeError):
        code = ""
    return f"{response.status_code} {code}".strip()


class GateLane(FastHttpUser):
    """One lane of one terminal, serving one driver after another."""

    network_timeout = 10.0
    connection_timeout = 5.0
    max_retries = 0

    def on_start(self) -> None:
        """Take a terminal, connect to the identity service for the drivers' phones, and wait
        for this lane's place in the stagger."""
        options = self.environment.parsed_options
        self.plan = plan_of(self)
        number, self.terminal = self.plan.next_lane()
        self.headers = {"Authorization": f"Bearer {self.plan.tokens[self.terminal]}"}
        self.period = 1.0 / options.lane_rate
        self.phones = FastHttpSession(
            base_url=self.plan.identity_url,
            request_event=self.environment.events.request,
            user=self,
            network_timeout=self.network_timeout,
            connection_timeout=self.connection_timeout,
            max_retries=0,
        )
        lanes = max(1, options.num_users or 1)
        time.sleep((number % lanes) / lanes * self.period)  # gevent's sleep: locust patches it
        self.due = time.perf_counter()

    def wait_time(self) -> float:
        """Until this lane's next pickup on its timetable (none when it is behind)."""
        self.due += self.period
        return max(0.0, self.due - time.perf_counter())

    def fetch_gate_pass(self, driver: str) -> str | None:
        """The driver's phone asks the identity service for a gate pass (None if refused)."""
        with self.phones.post(
            f"/v1/people/{driver}/gate-pass",
            headers={"Authorization": f"Bearer {self.plan.driver_tokens[driver]}"},
            name=GATE_PASS,
            catch_response=True,
        ) as answer:
            if answer.status_code != 200:
                answer.failure(refusal(answer))
                return None
            gate_pass: str = answer.json()["gate_pass"]
            return gate_pass

    @task
    def pick_up(self) -> None:
        """Gate pass, decision, gate-out for the next release waiting at this terminal."""
        waiting = self.plan.pickups[self.terminal]
        if not waiting:
            raise StopUser("no more prepared releases at this terminal")
        pickup = waiting.popleft()
        gate_pass = pickup.get("gate_pass") or self.fetch_gate_pass(pickup["driver"])
        if gate_pass is None:
            return
        with self.client.post(
            "/v1/gate/decisions",
            json={"container": pickup["container"], "gate_pass": gate_pass},
            headers=self.headers,
            name=DECISION,
            catch_response=True,
        ) as answer:
            if answer.status_code != 201:
                answer.failure(refusal(answer))
                return
            decision = answer.json()
            codes = ",".join(reason["code"] for reason in decision["reasons"])
            if (
                decision["decision"] == "inspect"
                and codes == RANDOM_INSPECTION
                and self.environment.parsed_options.inspect_expected
            ):
                return  # selected by the draw: the truck goes to inspection, no gate-out
            if decision["decision"] != "release":
                answer.failure(f"{decision['decision']} {codes}".strip())
                return
        with self.client.post(
            f"/v1/gate/decisions/{decision['decision_id']}/complete",
            headers=self.headers,
            name=COMPLETE,
            catch_response=True,
        ) as answer:
            if answer.status_code != 200:
                answer.failure(refusal(answer))

"""The M/M/c of scenarios/mmc.toml in SimPy, for a side-by-side speed comparison.

8 servers behind one FIFO queue (simpy.Resource), Poisson arrivals at 6.4/s, exponential service
with mean 1 s, for 44 simulated hours (about a million requests). Prints simulated requests per
second of wall time, and the mean wait as a sanity check against Erlang C (0.286 s).

    pip install simpy
    python3 benches/simpy_mmc.py [hours]
"""

import random
import sys
import time

import simpy

SERVERS = 8
RATE = 6.4
MEAN_SERVICE = 1.0


def main() -> None:
    hours = float(sys.argv[1]) if len(sys.argv) > 1 else 44.0
    horizon = hours * 3600.0
    rng = random.Random(1)
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=SERVERS)
    waits = []

    def request(arrival):
        with servers.request() as slot:
            yield slot
            waits.append(env.now - arrival)
            yield env.timeout(rng.expovariate(1.0 / MEAN_SERVICE))

    def source():
        while True:
            yield env.timeout(rng.expovariate(RATE))
            if env.now >= horizon:
                return
            env.process(request(env.now))

    env.process(source())
    start = time.perf_counter()
    env.run()
    wall = time.perf_counter() - start
    n = len(waits)
    print(f"simpy {simpy.__version__}: {n} requests in {wall:.2f} s wall = "
          f"{n / wall:,.0f} simulated requests/s; mean wait {sum(waits) / n:.4f} s")


if __name__ == "__main__":
    main()

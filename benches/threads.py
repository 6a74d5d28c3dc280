"""Dense-path times of linflow.expm and linflow.expm_frechet at a list of orders, for comparing
builds and thread counts (the thread variables are read from the environment).

Each time is the best of several repeats (each repeat at least --min-time seconds of calls) on a
fixed random float64 matrix of 1-norm about 10 (expm: order 13 with a few squarings).

Run:  OPENBLAS_NUM_THREADS=2 RAYON_NUM_THREADS=2 python benches/threads.py
      PYTHONPATH=/path/to/other/build python benches/threads.py --sizes 256 1024   (another build)
"""

import argparse
import json
import os
import time

import numpy as np

import linflow


def best_time(call, repeats: int, min_time: float) -> float:
    call()
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            call()
        if time.perf_counter() - t0 >= min_time:
            break
        number *= 2
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            call()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 200, 256, 400, 512, 1024])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--min-time", type=float, default=0.1)
    parser.add_argument("--json", help="also write the times (seconds) to this file")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    env = {k: os.environ.get(k, "") for k in ("OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS")}
    print(f"linflow from {os.path.dirname(linflow.__file__)}, {env}")
    times = {}
    for n in args.sizes:
        a = rng.standard_normal((n, n)) * (10.0 / n)
        e = rng.standard_normal((n, n))
        t_expm = best_time(lambda: linflow.expm(a), args.repeats, args.min_time)
        t_frechet = best_time(lambda: linflow.expm_frechet(a, e), args.repeats, args.min_time)
        times[n] = {"expm": t_expm, "expm_frechet": t_frechet}
        print(f"n = {n:5d}  expm {t_expm * 1e3:9.3f} ms  expm_frechet {t_frechet * 1e3:9.3f} ms", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"env": env, "times": times}, f, indent=1)


if __name__ == "__main__":
    main()

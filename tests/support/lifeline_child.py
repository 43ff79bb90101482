"""A child with a child of its own (in its process group, as a worker's runs are): prints both processes, then
waits for ever. Started watched (python -m lifecycle.deathwatch tests.support.lifeline_child) by the unit test of
lifecycle.deathwatch."""

import subprocess
import sys
import time

if __name__ == "__main__":
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print("grandchild", grandchild.pid, flush=True)
    time.sleep(600)

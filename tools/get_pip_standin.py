# Stand-in for pip's get-pip.py (its download host is out of reach here): bootstrap pip with ensurepip,
# then upgrade it from PyPI to the version ansible-test asked for.
import subprocess, sys
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
args = [a for a in sys.argv[1:] if a.startswith("pip")]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q"] + (args or ["pip==24.2"]))

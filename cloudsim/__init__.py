"""cloudsim: a stand-alone simulated Apsara Stack region speaking the Alibaba Cloud OpenAPI wire format.

Run it with ``python -m cloudsim --port 9100``; see README.md beside this file.
"""

__version__ = "0.1.0"

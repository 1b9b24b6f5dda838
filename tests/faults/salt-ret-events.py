"""Record the return events of a Salt master's bus for the fault scripts.

Every `salt/job/<jid>/ret/<id>` event is written as "<unix time> <tag>", one
line each, so a script can count how often each return reached the master
(the job cache keeps the first of a duplicate; the bus fires each).

    python3 salt-ret-events.py MASTER_CONF_DIR OUT_FILE
"""

import sys
import time

import salt.config
import salt.utils.event


def main(conf_dir, out_path):
    opts = salt.config.client_config(conf_dir + "/master")
    bus = salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=True)
    with open(out_path, "a", buffering=1) as out:
        out.write(f"{time.time():.3f} listening\n")
        while True:
            event = bus.get_event(full=True, wait=1, tag="salt/job/")
            if event and "/ret/" in event["tag"]:
                out.write(f"{time.time():.3f} {event['tag']}\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

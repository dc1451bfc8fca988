"""An MDP/0.1 client in plain pyzmq on a REQ socket (RFC 7's synchronous client), frames built
by hand.

Usage: mdp_client.py ENDPOINT SERVICE COUNT
Sends COUNT requests to an echo SERVICE with multi-frame, binary and empty-frame bodies and
checks each reply frame by frame. Prints "OK <i>" per reply and "DONE"; exits 2 on a timeout
and 3 on a wrong reply.
"""
import sys

import zmq

endpoint, service, count = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
CLIENT = b"MDPC01"
ctx = zmq.Context()
sock = ctx.socket(zmq.REQ)
sock.linger = 0
sock.connect(endpoint)

for i in range(count):
    body = [b"hello %d" % i, bytes(range(256)), b"", b"\x00\xff" * 100]
    sock.send_multipart([CLIENT, service] + body)  # REQ adds the empty frame 0
    if not sock.poll(10000):
        print("TIMEOUT", i, flush=True)
        sys.exit(2)
    reply = sock.recv_multipart()
    if reply != [CLIENT, service] + body:
        print("WRONG", i, reply[:3], flush=True)
        sys.exit(3)
    print("OK", i, flush=True)
print("DONE", flush=True)

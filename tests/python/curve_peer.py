"""pyzmq side of the zmsg security interoperability tests (tests/security_pyzmq.rs).

Modes (all output is line-oriented on stdout, flushed at once):
  server SERVER_CERT CLIENTS_DIR   CURVE REP server; keys from SERVER_CERT (a zmsg-made secret
                                   certificate, read with zmq.auth.load_certificate); clients
                                   authorised by pyzmq's ThreadAuthenticator from the *.key files
                                   in CLIENTS_DIR. Prints "PORT <n>", then answers each request
                                   "echo:<request>|<User-Id>" until it receives "quit".
  client CLIENT_CERT SERVER_CERT PORT
                                   CURVE REQ client; own keys from CLIENT_CERT, the server key
                                   from SERVER_CERT. Sends "hello from pyzmq", prints
                                   "REPLY <reply>".
  make DIR NAME                    zmq.auth.create_certificates(DIR, NAME, metadata); prints
                                   "PUBLIC <z85>" and "SECRET <z85>".
  load FILE                        zmq.auth.load_certificate(FILE); prints "PUBLIC <z85>" and
                                   "SECRET <z85 or None>".
"""

import sys

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator


def say(*parts):
    print(*parts, flush=True)


def text(key):
    return key.decode() if isinstance(key, bytes) else str(key)


def server(server_cert, clients_dir):
    ctx = zmq.Context()
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=clients_dir)
    public, secret = zmq.auth.load_certificate(server_cert)
    sock = ctx.socket(zmq.REP)
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.curve_server = True
    sock.linger = 0
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    say("PORT", port)
    try:
        while True:
            frame = sock.recv(copy=False)
            body = frame.bytes
            if body == b"quit":
                sock.send(b"bye")
                break
            user = frame.get("User-Id") or ""
            sock.send(b"echo:" + body + b"|" + user.encode())
    finally:
        auth.stop()
        sock.close()
        ctx.term()


def client(client_cert, server_cert, port):
    ctx = zmq.Context()
    public, secret = zmq.auth.load_certificate(client_cert)
    server_public, _ = zmq.auth.load_certificate(server_cert)
    sock = ctx.socket(zmq.REQ)
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.curve_serverkey = server_public
    sock.linger = 0
    sock.rcvtimeo = 10000
    sock.connect("tcp://127.0.0.1:%d" % int(port))
    sock.send(b"hello from pyzmq")
    say("REPLY", sock.recv().decode())
    sock.close()
    ctx.term()


def make(directory, name):
    public_file, secret_file = zmq.auth.create_certificates(
        directory, name, metadata={"name": "Py Thon", "team": "interop"}
    )
    public, secret = zmq.auth.load_certificate(secret_file)
    say("PUBLIC", text(public))
    say("SECRET", text(secret))


def load(path):
    public, secret = zmq.auth.load_certificate(path)
    say("PUBLIC", text(public))
    say("SECRET", text(secret) if secret else "None")


def main(argv):
    mode, args = argv[1], argv[2:]
    {"server": server, "client": client, "make": make, "load": load}[mode](*args)


if __name__ == "__main__":
    main(sys.argv)

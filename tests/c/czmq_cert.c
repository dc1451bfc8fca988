/*  CZMQ side of the zmsg certificate interoperability test (tests/security_czmq.rs).
    Built by the test with `cc czmq_cert.c -lczmq -lzmq` (Debian's libczmq-dev).

    czmq_cert make FILE          zcert_new + metadata, zcert_save (FILE and FILE_secret);
                                 prints "PUBLIC <z85>" and "SECRET <z85>"
    czmq_cert load FILE          zcert_load (FILE_secret if present, else FILE); prints
                                 "PUBLIC", "SECRET" and "NAME <metadata name or ->"
    czmq_cert client CERT SERVER_CERT PORT
                                 CURVE REQ client with keys from CZMQ-loaded certificates;
                                 sends "hello from czmq", prints "REPLY <reply>"            */

#include <czmq.h>
#include <stdio.h>
#include <string.h>

static void
s_print (zcert_t *cert)
{
    const char *name = zcert_meta (cert, "name");
    printf ("PUBLIC %s\nSECRET %s\nNAME %s\n",
            zcert_public_txt (cert), zcert_secret_txt (cert), name ? name : "-");
    fflush (stdout);
}

int
main (int argc, char *argv [])
{
    if (argc >= 3 && streq (argv [1], "make")) {
        zcert_t *cert = zcert_new ();
        zcert_set_meta (cert, "name", "Cee Zed");
        zcert_set_meta (cert, "email", "cz@example.com");
        if (zcert_save (cert, argv [2]) != 0)
            return 2;
        s_print (cert);
        zcert_destroy (&cert);
        return 0;
    }
    if (argc >= 3 && streq (argv [1], "load")) {
        zcert_t *cert = zcert_load (argv [2]);
        if (!cert)
            return 3;
        s_print (cert);
        zcert_destroy (&cert);
        return 0;
    }
    if (argc >= 5 && streq (argv [1], "client")) {
        zcert_t *mine = zcert_load (argv [2]);
        zcert_t *server = zcert_load (argv [3]);
        if (!mine || !server)
            return 4;
        zsock_t *client = zsock_new (ZMQ_REQ);
        zcert_apply (mine, client);
        zsock_set_curve_serverkey (client, zcert_public_txt (server));
        zsock_set_rcvtimeo (client, 10000);
        zsock_set_linger (client, 0);
        if (zsock_connect (client, "tcp://127.0.0.1:%s", argv [4]) != 0)
            return 5;
        zstr_send (client, "hello from czmq");
        char *reply = zstr_recv (client);
        if (!reply)
            return 6;
        printf ("REPLY %s\n", reply);
        fflush (stdout);
        zstr_free (&reply);
        zsock_destroy (&client);
        zcert_destroy (&mine);
        zcert_destroy (&server);
        return 0;
    }
    fprintf (stderr, "usage: czmq_cert make|load FILE | client CERT SERVER_CERT PORT\n");
    return 1;
}

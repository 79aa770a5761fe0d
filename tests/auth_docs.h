/* SPDX-License-Identifier: MIT */
/*
 * The values Pusher publishes for its authentication (auth.h), used by
 * check_auth.c (channel auth strings) and check_auth_http.c (the HTTP API
 * request signature).
 *
 * Published values used here:
 * - Channels docs, "Generating authentication and authorization strings"
 *   (pusher.com/docs/channels/library_auth_reference/auth-signatures):
 *   key 278d425bdf160c739803, secret 7ad3773142a6692b25b8, socket_id
 *   1234.1234, "1234.1234:private-foobar" signs to 58df8b0c...51c3a4.
 *   Its presence example prints afaed369...e6304c; that digest is over
 *   channel_data {"user_id":10,"user_info":{"name":"Mr. Pusher"}} (the
 *   page's text was later renamed to "Mr. Channels", the digest was not).
 * - HTTP API reference, "Worked authentication example"
 *   (pusher.com/docs/channels/library_auth_reference/rest-api): POST
 *   /apps/3/events, auth_timestamp 1353088179, body
 *   {"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"},
 *   body_md5 ec365a77...201b6f, auth_signature da454824...f457e6c.
 * - pusher-http-node tests/integration/pusher/create_signed_query_string.js:
 *   key f00d, secret beef, time 1234567890, GET /event with body
 *   "example body": body_md5 165d5e6d...df42fc, signature 89323a7f...fb26.
 */
#ifndef RESDELIV_TEST_AUTH_DOCS_H
#define RESDELIV_TEST_AUTH_DOCS_H

#define KEY "278d425bdf160c739803"
#define SECRET "7ad3773142a6692b25b8"
#define DOC_PRIVATE_SIG                                                        \
    "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
#define DOC_PRESENCE_SIG                                                       \
    "afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c"
#define DOC_PRESENCE_DATA                                                      \
    "{\"user_id\":10,\"user_info\":{\"name\":\"Mr. Pusher\"}}"
#define DOC_BODY                                                               \
    "{\"name\":\"foo\",\"channels\":[\"project-3\"],"                          \
    "\"data\":\"{\\\"some\\\":\\\"data\\\"}\"}"
#define DOC_MD5 "ec365a775a4cd0599faeb73354201b6f"
#define DOC_HTTP_SIG                                                           \
    "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
#define DOC_TS 1353088179u
#define DOC_QUERY                                                              \
    "auth_key=" KEY "&auth_timestamp=1353088179&auth_version=1.0"              \
    "&body_md5=" DOC_MD5

#endif /* RESDELIV_TEST_AUTH_DOCS_H */

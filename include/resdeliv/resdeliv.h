/* SPDX-License-Identifier: MIT */
/**
 * @file resdeliv.h
 * Umbrella header of libresdeliv: at-least-once delivery for WebSocket
 * pub/sub servers. Include this one header.
 */
#ifndef RESDELIV_H
#define RESDELIV_H

#include "common.h"
#include "version.h"
#include "id.h"
#include "config.h"
#include "store.h"
#include "redis.h"
#include "log.h"
#include "replay.h"
#include "dedup.h"
#include "tag.h"
#include "pusher.h"
#include "auth.h"
#include "transport.h"
#include "server.h"
#include "bus.h"
#include "pusher_server.h"
#include "presence.h"
#include "plugin.h"

#endif /* RESDELIV_H */

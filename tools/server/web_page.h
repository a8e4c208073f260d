// The chat page served at `/` (tools/server/public/index.html, embedded at build time).
#pragma once

#include "web_page.inc"

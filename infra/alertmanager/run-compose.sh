#!/bin/sh
# Compose's Alertmanager: fills alertmanager.yml.template's placeholders (the webhook URL
# from ALERT_WEBHOOK_URL, the real grouping timings), then runs Alertmanager in place of
# this shell. Natively infra/native/src/taskhub_stack/alerting.py renders the same template.
set -eu

template="${ALERTMANAGER_TEMPLATE:-/etc/alertmanager/alertmanager.yml.template}"
config="${ALERTMANAGER_CONFIG:-/tmp/alertmanager.yml}"

# The URL goes into a sed replacement: escape its delimiter, `&` and backslashes.
url=$(printf '%s' "$ALERT_WEBHOOK_URL" | sed -e 's/[\\|&]/\\&/g')

sed -e "s|\${WEBHOOK_URL}|$url|" \
  -e "s|\${GROUP_WAIT}|30s|" \
  -e "s|\${GROUP_INTERVAL}|5m|" \
  -e "s|\${REPEAT_INTERVAL}|4h|" \
  "$template" >"$config"

exec "${ALERTMANAGER_BIN:-/bin/alertmanager}" --config.file="$config" \
  --storage.path=/alertmanager --cluster.listen-address= "$@"

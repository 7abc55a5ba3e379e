#!/usr/local/bin/bash
# Entrypoint of the `bash` stand-in image (testwerk test cluster): like the original image,
# run bash when there are no arguments or the first one is an option, the command otherwise.
set -Eeuo pipefail
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
	exec bash "$@"
fi
exec "$@"

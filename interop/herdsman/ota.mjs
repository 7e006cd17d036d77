// Stock zigbee-herdsman upgrades an emulated device through hanemu's emulated EZSP NCP
// (docs/interop.md): its Controller starts the ember adapter on tcp://HOST:PORT, forms a network,
// permits joining, waits for the first device (or the one --ieee names) whose interview
// succeeds, and runs herdsman's own OTA (Device.updateOta) with the image file given. Prints one
// JSON result on stdout and exits 0; any failure is one line on stderr and exit 1 (2: bad
// usage). Herdsman's own log goes to stderr.
//
// usage: node ota.mjs --port PORT --image FILE [--host 127.0.0.1] [--timeout 120]
//          [--channel 15] [--pan-id 0x1a62] [--response-delay MS] [--request-timeout MS]
//          [--ieee 0x...] [--state DIR] [--debug]

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";

const require = createRequire(import.meta.url);
const NAME = "herdsman-ota";

const USAGE = `usage: node ota.mjs --port PORT --image FILE [--host 127.0.0.1] [--timeout 120]
         [--channel 15] [--pan-id 0x1a62] [--response-delay MS] [--request-timeout MS]
         [--ieee 0x...] [--state DIR] [--debug]`;

function usageError(message) {
    process.stderr.write(`${NAME}: error: ${message} (see --help)\n`);
    process.exit(2);
}

function parseArgs(argv) {
    const options = {
        host: "127.0.0.1",
        port: undefined,
        image: undefined,
        timeout: 120,
        channel: 15,
        panId: 0x1a62,
        responseDelay: 0,
        requestTimeout: 60000,
        state: undefined,
        ieee: undefined,
        debug: false,
    };
    const numbers = {
        "--port": ["port", 1, 65535],
        "--timeout": ["timeout", 1, 3600],
        "--channel": ["channel", 11, 26],
        "--pan-id": ["panId", 1, 0xfffe],
        "--response-delay": ["responseDelay", 0, 60000],
        "--request-timeout": ["requestTimeout", 1000, 3600000],
    };
    for (let i = 0; i < argv.length; i++) {
        let arg = argv[i];
        let value;
        const eq = arg.indexOf("=");
        if (arg.startsWith("--") && eq > 0) {
            value = arg.slice(eq + 1);
            arg = arg.slice(0, eq);
        }
        const take = () => {
            if (value !== undefined) return value;
            if (i + 1 >= argv.length) usageError(`${arg} needs a value`);
            return argv[++i];
        };
        if (arg === "-h" || arg === "--help") {
            process.stdout.write(`${USAGE}\n`);
            process.exit(0);
        } else if (arg === "--debug") {
            options.debug = true;
        } else if (arg === "--host") {
            options.host = take();
        } else if (arg === "--image") {
            options.image = resolve(take());
        } else if (arg === "--ieee") {
            const text = take();
            const digits = text.toLowerCase().replace(/^0x/, "").replaceAll(":", "");
            if (!/^[0-9a-f]{16}$/.test(digits)) usageError(`--ieee needs an EUI-64 (0x + 16 hex digits), not '${text}'`);
            options.ieee = `0x${digits}`;
        } else if (arg === "--state") {
            options.state = resolve(take());
        } else if (arg in numbers) {
            const [key, low, high] = numbers[arg];
            const text = take();
            const number = /^(0x[0-9a-f]+|[0-9]+)$/i.test(text) ? Number(text) : Number.NaN;
            if (!(number >= low && number <= high)) {
                usageError(`${arg} needs a whole number from ${low} to ${high}, not '${text}'`);
            }
            options[key] = number;
        } else {
            usageError(`unknown argument '${arg}'`);
        }
    }
    if (options.port === undefined) usageError("--port is required");
    if (options.image === undefined) usageError("--image is required");
    return options;
}

const options = parseArgs(process.argv.slice(2));
let herdsman;
try {
    herdsman = require("zigbee-herdsman");
} catch (error) {
    process.stderr.write(`${NAME}: error: zigbee-herdsman is not installed (run scripts/install-herdsman): ${error.message}\n`);
    process.exit(1);
}
const version = require("zigbee-herdsman/package.json").version;

const levels = options.debug ? ["debug", "info", "warning", "error"] : ["info", "warning", "error"];
const log = (level) => (message, namespace) => {
    if (!levels.includes(level)) return;
    const text = typeof message === "function" ? message() : message;
    process.stderr.write(`${(performance.now() / 1000).toFixed(3)} ${level} ${namespace}: ${text}\n`);
};
herdsman.setLogger({ debug: log("debug"), info: log("info"), warning: log("warning"), error: log("error") });

const started = performance.now();
const seconds = () => Math.round(performance.now() - started) / 1000;
let stage = "starting";
let controller;
const state = options.state ?? mkdtempSync(join(tmpdir(), "hanemu-herdsman-"));

function cleanUp() {
    if (options.state === undefined) {
        rmSync(state, { recursive: true, force: true });
    }
}

function fail(message) {
    process.stderr.write(`${NAME}: error: ${message}\n`);
    cleanUp();
    process.exit(1);
}

const hardTimeout = setTimeout(() => fail(`timed out after ${options.timeout} s while ${stage}`), options.timeout * 1000);

function hex(value, digits) {
    return `0x${value.toString(16).padStart(digits, "0")}`;
}

async function main() {
    const image = readFileSync(options.image); // fails early, with the path, when missing
    const result = { herdsman: version, adapter: "ember" };
    controller = new herdsman.Controller({
        network: {
            panID: options.panId,
            extendedPanID: [0x68, 0x61, 0x6e, 0x65, 0x6d, 0x75, 0x00, 0x01],
            channelList: [options.channel],
            networkKey: [0x01, 0x03, 0x05, 0x07, 0x09, 0x0b, 0x0d, 0x0f, 0x00, 0x02, 0x04, 0x06, 0x08, 0x0a, 0x0c, 0x0d],
        },
        serialPort: { path: `tcp://${options.host}:${options.port}`, adapter: "ember" },
        databasePath: join(state, "database.db"),
        databaseBackupPath: join(state, "database.db.backup"),
        backupPath: join(state, "coordinator_backup.json"),
        adapter: { disableLED: false },
        acceptJoiningDeviceHandler: async () => true,
    });
    const interviewed = new Promise((resolveInterview) => {
        controller.on("deviceInterview", (event) => {
            log("info")(`interview of ${event.device.ieeeAddr}: ${event.status}`, NAME);
            const wanted = options.ieee === undefined || event.device.ieeeAddr === options.ieee;
            if (event.status === "successful" && wanted) resolveInterview(event.device);
        });
    });
    controller.on("deviceJoined", (event) => {
        result.joined ??= seconds();
        log("info")(`${event.device.ieeeAddr} joined`, NAME);
    });

    stage = `starting the ember adapter on tcp://${options.host}:${options.port}`;
    result.start = await controller.start();
    result.started_s = seconds();
    stage = `waiting for ${options.ieee ?? "a device"} to join and finish its interview`;
    await controller.permitJoin(254);
    const device = await interviewed;
    result.interviewed_s = seconds();
    result.ieee = device.ieeeAddr;
    result.nwk = hex(device.networkAddress, 4);
    result.interview = device.interviewState ?? (device.interviewCompleted ? "SUCCESSFUL" : "unknown");
    result.manufacturer_code = device.manufacturerID;
    result.model = device.modelID;
    result.manufacturer = device.manufacturerName;
    result.endpoints = device.endpoints.map((ep) => ({
        id: ep.ID,
        profile: hex(ep.profileID ?? 0, 4),
        input_clusters: ep.inputClusters,
        output_clusters: ep.outputClusters,
    }));
    await controller.permitJoin(0);

    stage = `upgrading ${device.ieeeAddr} through herdsman's OTA`;
    let lastProgress = -1;
    const [from, to] = await device.updateOta(
        { url: options.image },
        undefined,
        undefined,
        {},
        (progress) => {
            if (Math.floor(progress / 25) !== Math.floor(lastProgress / 25)) {
                log("info")(`OTA progress ${progress}%`, NAME);
            }
            lastProgress = progress;
        },
        { requestTimeout: options.requestTimeout, responseDelay: options.responseDelay, baseSize: 50 },
    );
    if (to === undefined) {
        throw new Error(`herdsman offered no image (the device runs file version ${hex(from.fileVersion, 8)})`);
    }
    result.upgraded_s = seconds();
    result.from_file_version = from.fileVersion;
    result.to_file_version = to.fileVersion;
    result.image_size = image.length;

    stage = "stopping herdsman";
    await controller.stop();
    controller = undefined;
    result.seconds = seconds();
    return result;
}

main().then(
    (result) => {
        clearTimeout(hardTimeout);
        process.stdout.write(`${JSON.stringify(result)}\n`);
        cleanUp();
        process.exit(0);
    },
    (error) => fail(`${stage}: ${(error?.message ?? String(error)).split("\n")[0]}`),
);

"""Drives `devhost mcp` with the official MCP Python SDK (PyPI `mcp`) over stdio, as an agent's client
would, and prints one JSON object of what it saw; MCPTests checks it. Nothing here decides pass or
fail except a protocol failure (the script then exits 1 with the exception).

    python3 mcp_check.py --devhost BIN --project DIR --service api [--read-only] [--up] [--down]
"""

import argparse
import asyncio
import json
import os
import sys
import time

import jsonschema
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def structured(result):
    return {
        "is_error": bool(result.is_error),
        "text": "\n".join(getattr(item, "text", "") for item in result.content),
        "structured": result.structured_content,
    }


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--devhost", required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--read-only", action="store_true")
    parser.add_argument("--up", action="store_true", help="start the project with the up tool first")
    parser.add_argument("--down", action="store_true", help="stop it with the down tool at the end")
    parser.add_argument("--timeout", type=float, default=90)
    options = parser.parse_args()

    updated = []

    async def on_message(message):
        # Server notifications arrive here; only resources/updated matters.
        root = getattr(message, "root", message)
        if getattr(root, "method", None) == "notifications/resources/updated":
            updated.append(str(root.params.uri))

    args = ["mcp"] + (["--read-only"] if options.read_only else [])
    server = StdioServerParameters(command=options.devhost, args=args, cwd=options.project, env=dict(os.environ))
    report = {}
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write, message_handler=on_message, read_timeout_seconds=options.timeout) as session:
            init = await session.initialize()
            report["protocol_version"] = init.protocol_version
            report["server"] = init.server_info.name
            report["capabilities"] = init.capabilities.model_dump(mode="json", exclude_none=True)

            tools = (await session.list_tools()).tools
            report["tools"] = sorted(tool.name for tool in tools)
            schema_problems = []
            for tool in tools:
                for kind, schema in (("input", tool.input_schema), ("output", tool.output_schema)):
                    if schema is None:
                        schema_problems.append(f"{tool.name}: no {kind} schema")
                        continue
                    try:
                        jsonschema.validators.validator_for(schema).check_schema(schema)
                    except jsonschema.SchemaError as error:
                        schema_problems.append(f"{tool.name} {kind}: {error.message}")
                report.setdefault("read_only_hints", {})[tool.name] = tool.annotations.read_only_hint
            report["schema_problems"] = schema_problems

            if options.up:
                report["status_before_up"] = structured(await session.call_tool("status", {}))
                report["up_unknown"] = structured(await session.call_tool("up", {"services": ["nope"]}))
                report["up"] = structured(await session.call_tool("up", {}))

            # The client validates every structured result against the tool's output schema itself.
            status = await session.call_tool("status", {})
            report["status"] = structured(status)
            timings = []
            for _ in range(20):
                started = time.perf_counter()
                await session.call_tool("status", {})
                timings.append((time.perf_counter() - started) * 1000)
            timings.sort()
            report["status_ms"] = {"median": timings[len(timings) // 2], "max": timings[-1]}

            report["logs"] = structured(await session.call_tool("logs", {"service": options.service, "lines": 5}))
            report["logs_filtered"] = structured(
                await session.call_tool("logs", {"services": [options.service, "devhost"], "filter": "HEALTHY", "lines": 3})
            )
            report["logs_bad_lines"] = structured(await session.call_tool("logs", {"lines": 0}))
            report["validate"] = structured(await session.call_tool("validate", {}))
            report["doctor"] = structured(await session.call_tool("doctor", {}))

            resources = (await session.list_resources()).resources
            report["resources"] = sorted(str(resource.uri) for resource in resources)
            manifest = await session.read_resource("devhost://manifest")
            report["manifest_text"] = manifest.contents[0].text
            try:
                await session.read_resource("devhost://logs/..%2Fescape")
                report["bad_resource"] = "read"
            except Exception as error:  # an MCPError: the server said no
                report["bad_resource"] = str(error)
            log_uri = f"devhost://logs/{options.service}"
            await session.subscribe_resource(log_uri)

            report["restart"] = structured(await session.call_tool("restart", {"services": [options.service]}))
            report["restart_unknown"] = structured(await session.call_tool("restart", {"services": ["nope"]}))
            report["stop_nothing"] = structured(await session.call_tool("stop", {}))
            if not options.read_only:
                deadline = time.monotonic() + 10
                while log_uri not in updated and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
            report["updated"] = sorted(set(updated))
            report["log_resource"] = (await session.read_resource(log_uri)).contents[0].text
            report["status_after"] = structured(await session.call_tool("status", {}))
            if options.down:
                report["down"] = structured(await session.call_tool("down", {}))
    print(json.dumps(report))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as error:
        print(f"mcp_check: {type(error).__name__}: {error}", file=sys.stderr)
        raise

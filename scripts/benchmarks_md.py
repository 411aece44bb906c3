"""Writes BENCHMARKS.md from the JSON reports of scripts/bench."""

import json
import platform
import subprocess
import sys
from pathlib import Path

def ms(us):
    return f"{us / 1000:.2f} ms"


def cpu(cost):
    server = cost.get("server_cpu_percent")
    bench = cost.get("bench_cpu_percent")
    return f"server {server:.0f}%, generator {bench:.0f}%" if server is not None else ""


def mega_table(report):
    """One guild at each member count, the same sockets connected: which costs follow the guild's size."""
    mega = report["mega_guild"]
    sizes = [size for size in mega["sizes"] if "error" not in size["result"]]
    params = report["parameters"]

    def row(name, figure):
        return "| " + " | ".join([name] + [figure(size["result"]) for size in sizes]) + " |"

    def lat(latency):
        return f"p50 {ms(latency['p50_us'])}, p99 {ms(latency['p99_us'])}"

    def storm(r):
        s = r["presence_storm"]
        got, want = s["received_per_socket_per_second"], s["expected_per_socket_per_second"]
        return (f"{got['mean']:.1f}/s per socket (p99 {got['p99']:.1f}; following predicts {want['mean']:.1f}), "
                f"{s['missing']} missing, {s['extra']} extra; server CPU {s['cost']['server_cpu_percent']:.0f}%")

    def pages(r):
        h = r["member_list"]["http_pages"]
        return f"{lat(h['latency'])} a page; {h['pages']} pages, {h['members']:,} members in {h['seconds']:.1f} s"

    def op8(key):
        return lambda r: (f"{lat(r['member_list'][key]['latency'])}, "
                          f"{r['member_list'][key]['members_per_request']:.0f} members a request")

    connected = mega["connected"]
    lines = ["## One large guild\n",
             f"One guild grown to each member count in turn, {connected:,} sockets connected to it each",
             f"time, spread over {mega['accounts']:,} accounts; the other members were written through the",
             "store with the server stopped. Each socket identifies with GUILD_PRESENCES and follows",
             f"{mega['follows_per_socket']} of the accounts (op 14), as a member list would. In the storm the accounts",
             f"change their status {params['mega_storm_rate']:,.0f} times a second for {params['mega_storm_seconds']:g} s; in a large guild a",
             "socket hears only of the members it follows. Member lists: HTTP pages of 1,000 through",
             "the whole guild, op 8 by a name prefix (limit 100), by a prefix nobody has (the name",
             "index finds none at once), and by 100 ids.\n",
             "| figure | " + " | ".join(f"{size['members']:,} members" for size in sizes) + " |",
             "| --- |" + " --- |" * len(sizes)]
    lines += [
        row(f"IDENTIFY→READY, {connected:,} sockets, {params['connect_concurrency']} at once",
            lambda r: f"{lat(r['connect']['identify_to_ready'])}, {r['connect']['failed']} failed"),
        row("a member's GUILD_CREATE", lambda r: f"{r['guild_create_bytes']:,} bytes"),
        row(f"fan-out e2e to {connected:,} sockets, {params['rate']:g} msg/s",
            lambda r: f"{lat(r['fanout']['latency'])}, {r['fanout']['missing']} missing; {cpu(r['fanout']['cost'])}"),
        row(f"presence storm, {params['mega_storm_rate']:,.0f} changes/s", storm),
        row("HTTP member list", pages),
        row("op 8 by name prefix", op8("op8_by_query")),
        row("op 8, a prefix nobody has", op8("op8_by_query_unmatched")),
        row("op 8 by 100 ids", op8("op8_by_ids")),
    ]
    return "\n".join(lines) + "\n"


def head_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


if len(sys.argv) > 2 and sys.argv[1] == "--mega":
    # That section alone, from one mega-guild report, to refresh it in
    # BENCHMARKS.md without the other runs.
    print(mega_table(json.loads(Path(sys.argv[2]).read_text())))
    print(f"Measured alone, with `concord-bench run --phases mega-guild`, at commit {head_commit()}.\n")
    sys.exit(0)

out = Path(sys.argv[1])
main = json.loads((out / "main.json").read_text())
connect = json.loads((out / "connect.json").read_text())
tombs = json.loads((out / "tombstones.json").read_text())
idle = json.loads((out / "idle.json").read_text())
idle_zlib = json.loads((out / "idle-zlib.json").read_text())
zlib = json.loads((out / "zlib.json").read_text())
ingest32 = {fsync: json.loads((out / f"ingest-32-fsync-{fsync}.json").read_text())["ingest"]
            for fsync in ("on", "off")}
ingest8_unsynced = json.loads((out / "ingest-8-fsync-off.json").read_text())["ingest"]
def ingest_runs(search):
    return [json.loads(p.read_text())["ingest"] for p in sorted(out.glob(f"ingest-search-{search}-*.json"))]


def mean_rate(runs):
    return sum(r["accepted_per_second"] for r in runs) / len(runs)


indexed_runs, unindexed_runs = ingest_runs("on"), ingest_runs("off")
indexed, unindexed = indexed_runs[0], unindexed_runs[0]


lat = main["fanout_latency"]["concord"]
base_lat = main["fanout_latency"]["baseline"]
sat = main["fanout_saturation"]["concord"]
base_sat = main["fanout_saturation"]["baseline"]
ratio = main["fanout_saturation"]["concord_percent_of_baseline"]
zsat = zlib["fanout_saturation"]["concord"]
base_zsat = zlib["fanout_saturation"]["baseline"]
zratio = zlib["fanout_saturation"]["concord_percent_of_baseline"]


def squeezed(sat):
    """How much smaller zlib-stream made the bench messages on the wire."""
    return sat["payload_bytes_per_delivery"] / max(sat["wire_bytes_per_delivery"], 1)


ingest = indexed
indexing_ratio = 100 * mean_rate(indexed_runs) / mean_rate(unindexed_runs)
h1 = main["history"]["newest_page_concurrency_1"]
h8 = main["history"]["newest_page_concurrency_8"]
tomb = tombs["tombstones"]
c10k = connect["connect"]
held = idle["idle"]
zheld = idle_zlib["idle"]
cpus = main["machine"]["cpus"]
commit = head_commit()

rows = [
    ("fan-out e2e, N=1,000 sockets, 20 msg/s",
     f"p50 {ms(lat['latency']['p50_us'])}, p99 {ms(lat['latency']['p99_us'])}, {lat['missing']} missing",
     f"p50 {ms(base_lat['latency']['p50_us'])}, p99 {ms(base_lat['latency']['p99_us'])}",
     "p99 within 1.1× the baseline's, 0 missing", cpu(lat["cost"])),
    ("fan-out saturation, N=1,000",
     f"{sat['deliveries_per_second']:,.0f} deliveries/s ({ratio:.0f}% of baseline), drained in {sat['drain_seconds']:.2f} s, {sat['missing']} missing",
     f"{base_sat['deliveries_per_second']:,.0f} deliveries/s",
     "≥ 90% of baseline", cpu(sat["cost"])),
    ("fan-out saturation, N=1,000, zlib-stream",
     f"{zsat['deliveries_per_second']:,.0f} deliveries/s ({zratio:.0f}% of baseline), {zsat['sockets_closed']} sockets let go as slow consumers, {zsat['missing']:,} missing; "
     f"{zsat['wire_bytes_per_delivery']:.0f} bytes on the wire for {zsat['payload_bytes_per_delivery']:.0f} ({squeezed(zsat):.0f}:1)",
     f"{base_zsat['deliveries_per_second']:,.0f} deliveries/s, {base_zsat['missing']:,} missing; "
     f"{base_zsat['wire_bytes_per_delivery']:.0f} bytes on the wire ({squeezed(base_zsat):.0f}:1, full window kept)",
     "≥ 90% of baseline", cpu(zsat["cost"])),
    (f"ingest, {ingest['senders']} senders, durable acks, search index fed (mean of {len(indexed_runs)} runs)",
     f"{mean_rate(indexed_runs):,.0f} messages/s, p50 {ms(ingest['latency']['p50_us'])}, p99 {ms(ingest['latency']['p99_us'])}",
     f"search off: {mean_rate(unindexed_runs):,.0f} messages/s, p99 {ms(unindexed['latency']['p99_us'])} (indexed runs at {indexing_ratio:.0f}%); "
     f"fsync off: {ingest8_unsynced['accepted_per_second']:,.0f} messages/s",
     "≥ 10,000 messages/s; indexing costs ≤ 10%", cpu(ingest["cost"])),
    ("ingest, 32 senders, durable acks, search off",
     f"{ingest32['on']['accepted_per_second']:,.0f} messages/s, p50 {ms(ingest32['on']['latency']['p50_us'])}, p99 {ms(ingest32['on']['latency']['p99_us'])}",
     f"fsync off: {ingest32['off']['accepted_per_second']:,.0f} messages/s, p99 {ms(ingest32['off']['latency']['p99_us'])}",
     "≥ 20,000 messages/s", cpu(ingest32["on"]["cost"])),
    ("history, limit=50, concurrency 1",
     f"{h1['reads_per_second']:,.0f} reads/s, p99 {ms(h1['latency']['p99_us'])}", "", "≥ 10,000 reads/s", cpu(h1["cost"])),
    ("history, limit=50, concurrency 8",
     f"{h8['reads_per_second']:,.0f} reads/s, p99 {ms(h8['latency']['p99_us'])}", "", "≥ 30,000 reads/s", cpu(h8["cost"])),
    (f"tombstone channel first page ({tomb['deleted']:,} deleted)",
     f"right after the deletes: p50 {ms(tomb['first_page']['latency']['p50_us'])}, p99 {ms(tomb['first_page']['latency']['p99_us'])}; "
     f"once the server is quiet ({tomb['settled_after_seconds']:.0f} s later): p50 {ms(tomb['first_page_settled']['latency']['p50_us'])}, p99 {ms(tomb['first_page_settled']['latency']['p99_us'])}; "
     f"survivor found: {tomb['first_page_is_the_survivor']}",
     "", "p99 ≤ 5 ms", f"right after: {cpu(tomb['first_page']['cost'])}; once quiet: {cpu(tomb['first_page_settled']['cost'])}"),
    (f"memory per connection, N={c10k['sockets']:,}",
     f"{c10k['server_bytes_per_socket']:,} bytes of server RSS per socket",
     f"{main.get('baseline_connect', {}).get('server_bytes_per_socket', 0):,} bytes (N={main['parameters']['sockets']:,})",
     "≤ 4 KiB at N=10,000", ""),
    (f"idle sockets held {held['held_seconds']:.0f} s with heartbeats",
     f"{held['still_open']:,} of {held['connect']['sockets']:,} open, {held['connect']['server_bytes_per_socket']:,} bytes/socket after connecting, {held['server_bytes_per_socket_held']:,} after the hold, server CPU {held['cost']['server_cpu_percent']:.1f}%",
     "", "100,000 held; ≤ 4 KiB per idle socket", ""),
    (f"idle zlib-stream sockets, N={zheld['connect']['sockets']:,}, held {zheld['held_seconds']:.0f} s",
     f"{zheld['connect']['server_bytes_per_socket']:,} bytes/socket after connecting, {zheld['server_bytes_per_socket_held']:,} after the hold",
     "", "≤ 16 KiB per idle socket", ""),
    (f"IDENTIFY→READY, {c10k['sockets']:,} sockets, {connect['parameters']['connect_concurrency']} at once",
     f"p50 {ms(c10k['identify_to_ready']['p50_us'])}, p99 {ms(c10k['identify_to_ready']['p99_us'])}, {c10k['failed']} dropped",
     "", "p99 ≤ 20 ms, 0 dropped", ""),
]

def scaled_out_table():
    """Three nodes over PostgreSQL, NATS and Redis, and one node on PostgreSQL."""
    cluster = json.loads((out / "cluster.json").read_text())
    pg = json.loads((out / "postgres.json").read_text())
    nodes = cluster["parameters"]["nodes"]
    lat, base_lat = cluster["fanout_latency"]["concord"], cluster["fanout_latency"]["baseline"]
    sat, base_sat = cluster["fanout_saturation"]["concord"], cluster["fanout_saturation"]["baseline"]
    sockets = cluster["parameters"]["sockets"]
    pg_ingest = pg["ingest"]
    p1, p8 = pg["history"]["newest_page_concurrency_1"], pg["history"]["newest_page_concurrency_8"]
    rows = [
        (f"fan-out e2e across {nodes} nodes, N={sockets:,} sockets, 20 msg/s",
         f"p50 {ms(lat['latency']['p50_us'])}, p99 {ms(lat['latency']['p99_us'])}, {lat['missing']} missing",
         f"p50 {ms(base_lat['latency']['p50_us'])}, p99 {ms(base_lat['latency']['p99_us'])}",
         "p99 ≤ 10 ms", cpu(lat["cost"])),
        (f"fan-out saturation across {nodes} nodes, N={sockets:,}",
         f"{sat['deliveries_per_second']:,.0f} deliveries/s, drained in {sat['drain_seconds']:.2f} s, {sat['missing']} missing",
         f"{base_sat['deliveries_per_second']:,.0f} deliveries/s", "", cpu(sat["cost"])),
        (f"ingest on PostgreSQL, {pg_ingest['senders']} senders, durable acks",
         f"{pg_ingest['accepted_per_second']:,.0f} messages/s, p50 {ms(pg_ingest['latency']['p50_us'])}, p99 {ms(pg_ingest['latency']['p99_us'])}",
         "", "", cpu(pg_ingest["cost"])),
        ("history on PostgreSQL, limit=50, concurrency 1",
         f"{p1['reads_per_second']:,.0f} reads/s, p99 {ms(p1['latency']['p99_us'])}", "", "", cpu(p1["cost"])),
        ("history on PostgreSQL, limit=50, concurrency 8",
         f"{p8['reads_per_second']:,.0f} reads/s, p99 {ms(p8['latency']['p99_us'])}", "", "", cpu(p8["cost"])),
    ]
    lines = ["## Scaled out\n",
             f"{nodes} nodes over PostgreSQL, NATS and Redis on this machine: sockets and messages are",
             "spread over the nodes in turn, so most deliveries cross from one node to another",
             "through NATS. The servers of the backends share the machine too; CPU counts only the",
             "nodes. The baseline is the same single-process broadcast server as above.\n",
             "| figure | Concord | same-run baseline | target | CPU |", "| --- | --- | --- | --- | --- |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def abuse_table(report):
    """What hostile clients can make the server hold; the baseline is the same server before the flood."""
    h, l, c = report["flood_headers"], report["flood_logins"], report["slow_connections"]
    p50 = lambda r: ms(r["latency"]["p50_us"])
    rows = [
        (f"{h['requests']:,} requests, each with a new Authorization header",
         f"RSS {h['rss_after_mib']} MiB (peak {h['rss_peak_mib']}); a normal request p50 {p50(h['normal_request_after'])}",
         f"RSS {h['rss_before_mib']} MiB; p50 {p50(h['normal_request_before'])}",
         "RSS grows ≤ 32 MiB; normal p50 ≤ 1.5× before"),
        (f"{l['concurrent']} wrong-password logins at once (half for unknown accounts)",
         f"RSS +{l['rss_growth_mib']} MiB at peak; answers {l['statuses']}; another user's request p99 {ms(l['normal_request_during']['latency']['p99_us'])}",
         f"RSS {l['rss_before_mib']} MiB",
         "RSS grows < 256 MiB; no 5xx (rate limits off, so every login reaches the hasher)"),
        (f"{c['connections']:,} connections sending a header byte every {c['byte_interval_seconds']:.0f} s, held {c['held_seconds']:.0f} s",
         f"{c['refused_at_accept']:,} refused at accept (per-address limit), {c['closed_by_server']:,} closed later by the server, {c['still_open_at_end']:,} open at the end (peak {c['peak_open']:,}); /healthz from another address {c['healthz']['failed']} failed, p50 {p50(c['healthz'])}",
         f"RSS {c['rss_before_mib']} MiB (held: {c['rss_held_mib']} MiB)",
         "≤ 1,000 held from one address; 0 open after the 30 s header timeout; /healthz always answers"),
    ]
    lines = ["## Abuse bounds\n",
             "A server with its default limits (rate limits on), flooded from loopback; the",
             "baseline is the same server just before the flood.\n",
             "| flood | Concord under it | before | bound |", "| --- | --- | --- | --- |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def voice_table(report):
    """Speakers and listeners in one voice channel along a ramp of sizes; the baseline is a plain UDP relay."""
    voice = report["voice"]
    concord, relay = voice["concord"], voice.get("baseline", {})
    params = report["parameters"]

    def figures(step):
        if step is None:
            return ""
        if "error" in step:
            return step["error"]
        per_packet = step.get("server_cpu_us_per_packet")
        cost = f", {per_packet:.1f} µs server CPU per packet" if per_packet is not None else ""
        failed = f", {step['join_failures']} joins failed" if step["join_failures"] else ""
        return (f"{step['forwarded_per_second']:,.0f} packets/s, p50 {ms(step['latency']['p50_us'])}, "
                f"p99 {ms(step['latency']['p99_us'])}, {step['lost']:,} lost ({step['loss_percent']:.2f}%){cost}{failed}")

    def largest(ramp):
        size = ramp.get("largest_lossless_participants")
        if not size:
            return "none"
        return f"{size:,} participants" + (" (the largest tried)" if ramp.get("every_size_lossless") else "")

    steps = concord.get("steps", [])
    relay_steps = {step["participants"]: step for step in relay.get("steps", [])}
    sizes = [step["participants"] for step in steps]
    rows = [(f"{step['speakers']} speakers + {step['listeners']:,} listeners", figures(step),
             figures(relay_steps.get(step["participants"])), cpu(step["cost"]) if "cost" in step else "")
            for step in steps]
    rows += [(f"{step['speakers']} speakers + {step['listeners']:,} listeners", "", figures(step), "")
             for size, step in relay_steps.items() if size not in sizes]
    rows.append(("largest channel with 0 loss at 20 ms frames", largest(concord), largest(relay), ""))
    lines = ["## Voice\n",
             f"Speakers send a {params['voice_payload_bytes']}-byte frame every 20 ms for {params['voice_seconds']:g} s;",
             "everyone in the channel hears every speaker but themselves. Concord's participants join",
             "as Discord's clients do (op 4, the voice WebSocket over TLS, IP discovery, Select Protocol",
             f"with `{voice['mode']}`); its SFU opens each packet with the speaker's key and seals it",
             "for each listener. The baseline is a plain UDP relay without crypto (`concord-bench",
             "udp-relay`), with the same sockets, rates and packet sizes. Packets/s counts the packets",
             "participants received; latency runs from send to receipt on the generator's one clock;",
             "CPU per packet is the server's CPU time over the step divided by the packets received.",
             "Each ramp stops at its first size with loss or a failed join.\n",
             "| channel | Concord | same-run baseline (UDP relay) | CPU |", "| --- | --- | --- | --- |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


print("# Benchmarks\n")
print("Measured by `concord-bench` (crates/bench) against a release build, the")
print("generator and the server sharing the machine. Regenerate with `scripts/bench`;")
print("the raw reports land in `target/bench/*.json`.\n")
print(f"- machine: {cpus} CPUs, {platform.system()} {platform.release()}, commit {commit}")
target = main["target"]
said = f" (its answers name it {target['server_says']})" if target.get("server_says") else ""
print(f"- target: {target['name']}{said}")
print("- baseline: `concord-bench baseline`, a minimal WebSocket broadcast server (no storage,")
print("  no permissions, no sessions) run in the same invocation with the same sockets and frame sizes.")
print("- CPU columns are percent of one core, measured from /proc over the phase.\n")
print("| figure | Concord | same-run baseline | target | CPU |")
print("| --- | --- | --- | --- | --- |")
for row in rows:
    print("| " + " | ".join(row) + " |")
print()
print(scaled_out_table())
print(mega_table(json.loads((out / "mega.json").read_text())))
print(voice_table(json.loads((out / "voice.json").read_text())))
print(abuse_table(json.loads((out / "abuse.json").read_text())))
print((Path(__file__).parent / "benchmarks_notes.md").read_text())

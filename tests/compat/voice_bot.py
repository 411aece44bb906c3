"""discord.py in a voice channel on Concord: one bot plays a generated tone,
another receives it through the SFU and opens every packet with its own key.

Environment: CONCORD_HTTP, CONCORD_WS, BOT_TOKEN (the speaker),
LISTENER_TOKEN (a second bot in the same guild), GUILD_ID, VOICE_CHANNEL_ID
(a voice channel where both may CONNECT and SPEAK), VOICE_CA (the voice
WebSocket's certificate, PEM, trusted for wss://). Exits 0 when every step
passed; prints the packets lost and the latency the SFU added.

With PEER_ID (a person, in the web client: crates/server/tests/compat/voice.rs
runs tests/web/voice-peer.mjs beside it), one bot joins, prints "ready" and
plays its tone on and on while it listens; once a line comes on stdin (the
browser heard it) it waits to have heard the browser too: packets under
another SSRC, opened with its own key, carrying Opus.

The listener is discord.py's own VoiceClient, joined once in each AEAD mode
(AES-GCM, then XChaCha20-Poly1305, which the speaker always uses: it is the
only one discord.py sends), with a raw reader on its UDP socket: the SFU
must have sealed each packet for the listener, with the listener's key and
its own counter, under the speaker's SSRC and a gapless sequence.
"""

import asyncio
import io
import math
import os
import ssl
import statistics
import struct
import sys
import threading
import time
import traceback

import aiohttp
import discord
import nacl.bindings
import yarl
from discord.http import Route
from scenario import HTTP, TIMEOUT, check

Route.BASE = f"{HTTP}/api/v10"
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["CONCORD_WS"] + "/")

GUILD_ID = int(os.environ["GUILD_ID"])
VOICE_CHANNEL_ID = int(os.environ["VOICE_CHANNEL_ID"])
AES = "aead_aes256_gcm_rtpsize"
XCHACHA = "aead_xchacha20_poly1305_rtpsize"
# Seconds of tone per mode: 50 packets a second.
TONE_SECONDS = 3
OPUS_PAYLOAD_TYPE = 0x78


def tone(seconds, frequency=440.0):
    """16-bit 48 kHz stereo PCM of a sine wave, what discord.PCMAudio reads."""
    frames = int(48_000 * seconds)
    out = bytearray()
    for i in range(frames):
        sample = int(8_000 * math.sin(2 * math.pi * frequency * i / 48_000))
        out += struct.pack("<hh", sample, sample)
    return bytes(out)


def trusting_connector():
    context = ssl.create_default_context(cafile=os.environ["VOICE_CA"])
    return aiohttp.TCPConnector(ssl=context)


class AesListener(discord.VoiceClient):
    """A VoiceClient that picks AES-GCM when the server offers it (it only
    receives here, so it needs no way to send in that mode)."""

    supported_modes = (AES, XCHACHA)


def open_packet(mode, key, packet):
    """The Opus payload of an rtpsize packet, or None if it is not RTP."""
    if len(packet) < 12 + 16 + 4 or packet[0] >> 6 != 2 or packet[1] & 0x7F != OPUS_PAYLOAD_TYPE:
        return None
    header_len = 12 + 4 * (packet[0] & 0x0F)
    extension_len = 0
    if packet[0] & 0x10:
        extension_len = 4 * struct.unpack_from(">H", packet, header_len + 2)[0]
        header_len += 4
    aad = packet[:header_len]
    ciphertext = packet[header_len:-4]
    counter = packet[-4:]
    if mode == XCHACHA:
        plain = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ciphertext, aad, counter + bytes(20), bytes(key)
        )
    else:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        plain = AESGCM(bytes(key)).decrypt(counter + bytes(8), ciphertext, aad)
    return plain[extension_len:]


class Recorder:
    """Packets off the listener's socket (read on discord.py's socket
    thread), each with the time it arrived."""

    def __init__(self):
        self.lock = threading.Lock()
        self.packets = []

    def __call__(self, data):
        arrived = time.perf_counter()
        with self.lock:
            self.packets.append((arrived, bytes(data)))


async def start(token):
    client = discord.Client(intents=discord.Intents.default(), connector=trusting_connector())
    ready = asyncio.Event()
    client.event(ready_handler(ready))
    task = asyncio.create_task(client.start(token))
    await asyncio.wait_for(ready.wait(), TIMEOUT)
    return client, task


def ready_handler(ready):
    async def on_ready():
        ready.set()

    return on_ready


async def play(speaker_vc, pcm):
    """Plays `pcm`; the send time of each packet by RTP timestamp."""
    sent = {}
    connection = speaker_vc._connection
    original = connection.send_packet

    def send_packet(packet):
        sent[struct.unpack_from(">I", packet, 4)[0]] = time.perf_counter()
        original(packet)

    connection.send_packet = send_packet
    done = asyncio.get_running_loop().create_future()
    speaker_vc.play(
        discord.PCMAudio(io.BytesIO(pcm)),
        after=lambda error: done.get_loop().call_soon_threadsafe(done.set_result, error),
    )
    error = await asyncio.wait_for(done, TIMEOUT + TONE_SECONDS)
    check(error is None, f"the tone played ({error})")
    # The silence frames after the tone, and the last packets in flight.
    await asyncio.sleep(1)
    connection.send_packet = original
    return sent


async def connect(channel, **options):
    """Joins `channel`'s voice. A join that gets no voice updates in time
    is tried once more, and says so: a known intermittent miss on the
    server's side, which this keeps visible without failing the round."""
    try:
        return await channel.connect(timeout=TIMEOUT, **options)
    except asyncio.TimeoutError:
        print("# a voice join got no answer in time; trying once more", flush=True)
        if channel.guild.voice_client is not None:
            await channel.guild.voice_client.disconnect(force=True)
        return await channel.connect(timeout=TIMEOUT, **options)


async def round_in(mode, speaker, listener, pcm):
    listener_channel = listener.get_channel(VOICE_CHANNEL_ID)
    cls = AesListener if mode == AES else discord.VoiceClient
    listener_vc = await connect(listener_channel, cls=cls)
    check(listener_vc._connection.mode == mode, f"the listener uses {mode}")
    recorder = Recorder()
    listener_vc._connection.add_socket_listener(recorder)

    speaker_vc = await connect(speaker.get_channel(VOICE_CHANNEL_ID))
    check(speaker_vc._connection.mode == XCHACHA, "the speaker uses XChaCha20-Poly1305")
    sent = await play(speaker_vc, pcm)

    key = listener_vc._connection.secret_key
    with recorder.lock:
        packets = list(recorder.packets)
    heard = []
    for arrived, packet in packets:
        payload = open_packet(mode, key, packet)
        if payload is None:
            continue
        sequence, timestamp, ssrc = struct.unpack_from(">HII", packet, 2)
        heard.append((arrived, sequence, timestamp, ssrc, payload))

    check(heard, f"{mode}: the listener heard the speaker")
    check(
        all(ssrc == speaker_vc.ssrc for _, _, _, ssrc, _ in heard),
        f"{mode}: every packet under the speaker's SSRC",
    )
    sequences = [sequence for _, sequence, _, _, _ in heard]
    gaps = sum(1 for a, b in zip(sequences, sequences[1:]) if (b - a) % 65536 != 1)
    check(gaps == 0, f"{mode}: a gapless sequence ({gaps} gaps)")
    lost = len(set(sent) - {timestamp for _, _, timestamp, _, _ in heard})
    print(f"# {mode}: {len(sent)} packets sent, {len(heard)} heard, {lost} lost", flush=True)
    check(lost == 0, f"{mode}: no packet lost on loopback")
    latencies = sorted(
        (arrived - sent[timestamp]) * 1000 for arrived, _, timestamp, _, _ in heard if timestamp in sent
    )
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"# {mode}: latency added by the SFU p50 {p50:.3f} ms, p99 {p99:.3f} ms", flush=True)

    await speaker_vc.disconnect()
    await listener_vc.disconnect()


class EndlessTone(discord.AudioSource):
    """A tone that never ends: one second of PCM in 20 ms frames, over and over."""

    FRAME = 3840  # 20 ms of 16-bit 48 kHz stereo

    def __init__(self):
        self.pcm = tone(1)
        self.at = 0

    def read(self):
        frame = self.pcm[self.at : self.at + self.FRAME]
        self.at = (self.at + self.FRAME) % len(self.pcm)
        return frame


async def with_a_browser(bot):
    """Plays to the person in the browser and listens to them."""
    vc = await connect(bot.get_channel(VOICE_CHANNEL_ID))
    recorder = Recorder()
    vc._connection.add_socket_listener(recorder)
    vc.play(EndlessTone())
    print("ready", flush=True)
    await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline), TIMEOUT * 2)

    mode, key = vc._connection.mode, vc._connection.secret_key

    by_ssrc = {}
    opened = 0

    def heard():
        """Opened packets by SSRC, other than the bot's own (those not yet
        counted are opened now)."""
        nonlocal opened
        with recorder.lock:
            packets = [packet for _, packet in recorder.packets[opened:]]
        opened += len(packets)
        for packet in packets:
            if open_packet(mode, key, packet) is None:
                continue
            ssrc = struct.unpack_from(">I", packet, 8)[0]
            if ssrc != vc.ssrc:
                by_ssrc[ssrc] = by_ssrc.get(ssrc, 0) + 1
        return by_ssrc

    deadline = time.monotonic() + TIMEOUT
    while max(heard().values(), default=0) < 50 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    heard()
    print(f"# {mode}: heard {by_ssrc} (packets by SSRC) from the browser", flush=True)
    check(len(by_ssrc) == 1, "the browser is heard under one SSRC of its own")
    check(max(by_ssrc.values()) >= 50, "at least a second of the browser's voice")
    vc.stop()
    await vc.disconnect()


async def main():
    discord.opus._load_default()
    check(discord.opus.is_loaded(), "libopus is loaded")
    if os.environ.get("PEER_ID"):
        bot, task = await start(os.environ["BOT_TOKEN"])
        try:
            await with_a_browser(bot)
        finally:
            await bot.close()
            task.cancel()
        return
    speaker, speaker_task = await start(os.environ["BOT_TOKEN"])
    listener, listener_task = await start(os.environ["LISTENER_TOKEN"])
    pcm = tone(TONE_SECONDS)
    try:
        for mode in (AES, XCHACHA):
            await round_in(mode, speaker, listener, pcm)
    finally:
        await speaker.close()
        await listener.close()
        for task in (speaker_task, listener_task):
            task.cancel()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception:
        traceback.print_exc()
        sys.exit(1)

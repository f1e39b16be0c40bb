// The fast-path testbench of nnrtl's stateless stream operators (tb/fastpath.py builds it).
//
// Verilator compiles this file together with a unit's model (top module `dut`, model class
// `Vdut`): the unit's `i` stream is fed from an operand file, its `o` stream is collected
// into an output file, and the clock runs in C++ with no Python per cycle.
//
//   Vdut_fast --in FILE --out FILE --count N --in-width BITS --out-width BITS
//             --seed S [--out-count N] [--stall P] [--idle-limit N] [--drain N] [--reset N]
//
// Files: `count` input items and `out-count` (default `count`) output items, of
// ceil(width / 32) little-endian 32-bit words each, least significant word first
// (payloads of any width). Per cycle, with seeded random stalls
// (probability P, the same on both sides):
//
// - the driver offers the next input item unless it stalls; once it has raised
//   `i__valid` it holds `valid` and the payload until the item is taken (`valid & ready`
//   at a rising edge). While `valid` is low it drives random bits on the payload, which
//   a unit must ignore;
// - the consumer drops `o__ready` at random. A stalled output (valid high, ready low at a
//   rising edge) must still be valid, with the same payload, in the next cycle;
// - no output may leave after the last one (the testbench keeps `ready` high for
//   `drain` cycles at the end), nor, for a unit with one output per input (no
//   --out-count), before its input was accepted; no output for `idle-limit` cycles in a
//   row is a hang.
//
// On success it writes the outputs and prints one line,
//   `fastpath: cycles=C inputs=N outputs=N seconds=S`
// (C: cycles from the end of reset to the last output, as the cocotb benches count them),
// and exits 0. A protocol violation prints `fastpath: FAIL ...` on stderr and exits 1; bad
// arguments or files exit 2. Everything random is a pure function of the seed.

#include "Vdut.h"
#include "verilated.h"

#include <chrono>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

// Verilator escapes a double underscore in a port name: `i__valid` is `i___05Fvalid`.
#define I_VALID i___05Fvalid
#define I_READY i___05Fready
#define I_PAYLOAD i___05Fpayload
#define O_VALID o___05Fvalid
#define O_READY o___05Fready
#define O_PAYLOAD o___05Fpayload

namespace {

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "fastpath: %s\n", message.c_str());
    std::exit(2);
}

// splitmix64: small, fast, and fully determined by the seed.
struct Rng {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
};

// Ports are CData/SData/IData/QData up to 64 bits and VlWide<N> beyond.
template <typename T>
void put_port(T& port, const uint32_t* words, unsigned count) {
    static_assert(std::is_integral<T>::value, "an integer port");
    uint64_t value = words[0];
    if (count > 1) value |= static_cast<uint64_t>(words[1]) << 32;
    port = static_cast<T>(value);
}

template <std::size_t N>
void put_port(VlWide<N>& port, const uint32_t* words, unsigned count) {
    for (std::size_t i = 0; i < N; ++i) port.at(i) = i < count ? words[i] : 0;
}

template <typename T>
void get_port(const T& port, uint32_t* words, unsigned count) {
    static_assert(std::is_integral<T>::value, "an integer port");
    const uint64_t value = port;
    words[0] = static_cast<uint32_t>(value);
    if (count > 1) words[1] = static_cast<uint32_t>(value >> 32);
}

template <std::size_t N>
void get_port(const VlWide<N>& port, uint32_t* words, unsigned count) {
    for (unsigned i = 0; i < count; ++i) words[i] = i < N ? port.at(i) : 0;
}

// Bits a port of type T can hold.
template <typename T>
constexpr unsigned port_bits(const T&) { return 8 * sizeof(T); }
template <std::size_t N>
constexpr unsigned port_bits(const VlWide<N>&) { return 32 * N; }

std::string hex(const uint32_t* words, unsigned count) {
    unsigned top = count;           // the most significant nonzero word (or word 0)
    while (top > 1 && words[top - 1] == 0) --top;
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "0x%" PRIx32, words[top - 1]);
    std::string text = buffer;
    for (unsigned i = top - 1; i-- > 0;) {
        std::snprintf(buffer, sizeof buffer, "%08" PRIx32, words[i]);
        text += buffer;
    }
    return text;
}

struct Options {
    std::string in_path, out_path;
    uint64_t count = 0, out_count = 0, seed = 0, idle_limit = 1000, drain = 8, reset = 2;
    unsigned in_width = 0, out_width = 0;
    double stall = 0.2;
    bool has_count = false, has_seed = false, has_out_count = false;
};

uint64_t parse_uint(const char* name, const char* text) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long value = std::strtoull(text, &end, 0);
    if (errno || end == text || *end || text[0] == '-')
        usage_error(std::string(name) + " must be a non-negative integer, not '" + text + "'");
    return value;
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg.rfind("+verilator", 0) == 0) continue;       // Verilator's own plusargs
        if (i + 1 >= argc) usage_error("option " + arg + " needs a value");
        const char* value = argv[++i];
        if (arg == "--in") o.in_path = value;
        else if (arg == "--out") o.out_path = value;
        else if (arg == "--count") { o.count = parse_uint("--count", value); o.has_count = true; }
        else if (arg == "--out-count") {
            o.out_count = parse_uint("--out-count", value);
            o.has_out_count = true;
        }
        else if (arg == "--seed") { o.seed = parse_uint("--seed", value); o.has_seed = true; }
        else if (arg == "--in-width") o.in_width = parse_uint("--in-width", value);
        else if (arg == "--out-width") o.out_width = parse_uint("--out-width", value);
        else if (arg == "--idle-limit") o.idle_limit = parse_uint("--idle-limit", value);
        else if (arg == "--drain") o.drain = parse_uint("--drain", value);
        else if (arg == "--reset") o.reset = parse_uint("--reset", value);
        else if (arg == "--stall") {
            char* end = nullptr;
            o.stall = std::strtod(value, &end);
            if (end == value || *end || !(o.stall >= 0.0 && o.stall < 1.0))
                usage_error(std::string("--stall must be in [0, 1), not '") + value + "'");
        } else {
            usage_error("unknown option " + arg);
        }
    }
    if (o.in_path.empty() || o.out_path.empty() || !o.has_count || !o.has_seed
        || !o.in_width || !o.out_width)
        usage_error("--in, --out, --count, --seed, --in-width and --out-width are required");
    if (o.reset < 1) usage_error("--reset must be at least 1");
    if (!o.has_out_count) o.out_count = o.count;
    return o;
}

std::vector<uint32_t> read_items(const Options& o, unsigned words) {
    std::vector<uint32_t> items(o.count * words);
    FILE* file = std::fopen(o.in_path.c_str(), "rb");
    if (!file) usage_error("cannot open " + o.in_path);
    const size_t got = items.empty() ? 0 : std::fread(items.data(), 4, items.size(), file);
    const bool more = std::fgetc(file) != EOF;
    std::fclose(file);
    if (got != items.size() || more)
        usage_error(o.in_path + " does not hold exactly " + std::to_string(o.count)
                    + " items of " + std::to_string(words) + " words");
    return items;
}

[[noreturn]] void fail(const std::string& message) {
    std::fprintf(stderr, "fastpath: FAIL %s\n", message.c_str());
    std::fflush(stderr);
    std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    const unsigned in_words = (o.in_width + 31) / 32, out_words = (o.out_width + 31) / 32;

    auto context = std::make_unique<VerilatedContext>();
    auto dut = std::make_unique<Vdut>(context.get(), "dut");
    if (o.in_width > port_bits(dut->I_PAYLOAD) || o.out_width > port_bits(dut->O_PAYLOAD))
        usage_error("--in-width/--out-width are wider than the model's payload ports");
    const std::vector<uint32_t> items = read_items(o, in_words);
    std::vector<uint32_t> outputs(o.out_count * out_words);
    const bool one_per_input = !o.has_out_count;

    Rng rng{o.seed};
    // A stall when a 64-bit draw falls below stall * 2^64 (stall < 1: no overflow).
    const uint64_t threshold = static_cast<uint64_t>(o.stall * 18446744073709551616.0);
    const uint32_t top_mask = (o.in_width % 32) ? (1u << (o.in_width % 32)) - 1 : ~0u;
    std::vector<uint32_t> noise(in_words), held(out_words), now(out_words);

    auto drive_noise = [&]() {          // random bits on the payload while valid is low
        for (unsigned w = 0; w < in_words; ++w) noise[w] = static_cast<uint32_t>(rng.next());
        noise[in_words - 1] &= top_mask;
        put_port(dut->I_PAYLOAD, noise.data(), in_words);
    };

    // Synchronous reset, with both handshakes low.
    dut->clk = 0;
    dut->rst = 1;
    dut->I_VALID = 0;
    dut->O_READY = 0;
    drive_noise();
    dut->eval();
    for (uint64_t c = 0; c < o.reset; ++c) {
        dut->clk = 1;
        dut->eval();
        dut->clk = 0;
        dut->eval();
    }
    dut->rst = 0;

    uint64_t sent = 0, received = 0, cycle = 0, idle = 0;
    bool offering = false, stalled = false;
    const auto start = std::chrono::steady_clock::now();
    while (received < o.out_count) {
        // Clock low: drive this cycle's inputs. Two draws per cycle, always, so that the
        // stall pattern depends on the seed only.
        const bool valid_stall = rng.next() < threshold;
        const bool ready_stall = rng.next() < threshold;
        if (!offering && sent < o.count && !valid_stall) offering = true;
        dut->clk = 0;
        dut->I_VALID = offering;
        if (offering) put_port(dut->I_PAYLOAD, &items[sent * in_words], in_words);
        else drive_noise();
        dut->O_READY = !ready_stall;
        dut->eval();

        if (stalled) {      // the output stalled at the last edge: it must be held
            get_port(dut->O_PAYLOAD, now.data(), out_words);
            if (!dut->O_VALID)
                fail("output #" + std::to_string(received) + " dropped valid while stalled "
                     "(valid high, ready low) at cycle " + std::to_string(cycle)
                     + "; it held " + hex(held.data(), out_words));
            if (std::memcmp(now.data(), held.data(), 4 * out_words))
                fail("output #" + std::to_string(received) + " changed while stalled "
                     "(valid high, ready low) at cycle " + std::to_string(cycle) + ": "
                     + hex(held.data(), out_words) + ", then "
                     + hex(now.data(), out_words));
        }
        // The transfers of the coming rising edge.
        const bool in_fire = dut->I_VALID && dut->I_READY;
        const bool out_fire = dut->O_VALID && dut->O_READY;
        if (out_fire) {
            if (one_per_input && received + 1 > sent + in_fire)
                fail("output #" + std::to_string(received) + " left at cycle "
                     + std::to_string(cycle) + " before its input was accepted ("
                     + std::to_string(sent + in_fire) + " inputs accepted)");
            get_port(dut->O_PAYLOAD, &outputs[received * out_words], out_words);
            ++received;
            idle = 0;
        } else if (++idle > o.idle_limit) {
            fail("stream stalled: " + std::to_string(received) + " of "
                 + std::to_string(o.out_count) + " outputs after " + std::to_string(cycle + 1)
                 + " cycles, " + std::to_string(sent) + " inputs accepted");
        }
        stalled = dut->O_VALID && !dut->O_READY;
        if (stalled) get_port(dut->O_PAYLOAD, held.data(), out_words);
        if (in_fire) {
            ++sent;
            offering = false;
        }
        dut->clk = 1;
        dut->eval();
        ++cycle;
    }
    if (sent < o.count)
        fail("all " + std::to_string(o.out_count) + " outputs left with only "
             + std::to_string(sent) + " of " + std::to_string(o.count) + " inputs accepted");
    // Drain: keep ready high; any further output is one more than expected.
    for (uint64_t c = 0; c < o.drain; ++c) {
        dut->clk = 0;
        dut->I_VALID = 0;
        drive_noise();
        dut->O_READY = 1;
        dut->eval();
        if (dut->O_VALID) {
            get_port(dut->O_PAYLOAD, now.data(), out_words);
            fail("outputs more than the " + std::to_string(o.out_count) + " expected: "
                 + hex(now.data(), out_words) + " left " + std::to_string(c + 1)
                 + " cycles after the last expected output");
        }
        dut->clk = 1;
        dut->eval();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    dut->final();

    FILE* file = std::fopen(o.out_path.c_str(), "wb");
    if (!file || std::fwrite(outputs.data(), 4, outputs.size(), file) != outputs.size()
        || std::fclose(file))
        usage_error("cannot write " + o.out_path);
    std::printf("fastpath: cycles=%" PRIu64 " inputs=%" PRIu64 " outputs=%" PRIu64
                " seconds=%.6f\n", cycle, sent, received, seconds);
    return 0;
}

"""The shim's local token estimate equals tiktoken's own count (js-tiktoken,
the package its tables come from) for o200k_base and cl100k_base, on texts
that exercise every branch of the pre-split, fed whole and in small slices."""
import glob
import json
import os
import shutil
import subprocess
import unittest

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
TOKCOUNT = os.environ["SPZ_TOKCOUNT"]
TABLES = os.path.dirname(harness.SHIM)
NODE = shutil.which("node") or os.path.join(harness.BUILD_ROOT, "node18", "usr", "bin", "nodejs")

SAMPLES = [
    "Hello, world! How are you doing today?",
    "I'm sure they've said it's fine, WE'LL see; you'D know. She'S HE'LL",
    "def f(x):\n    return x**2  # square\n\n\n\tif x  >  10:\n\t\tpass\n",
    "   leading spaces, trailing spaces   ",
    "multiple\r\n\r\nline  \n  ends\n\n   \n",
    "12345678901 3.14159 1,000,000 2024-11-23T08:01:15Z",
    "https://api.openai.com/v1/chat/completions?api-version=2024-12-01 path/to/file.txt //comment",
    "日本語のテキストと中文文本，还有한국어 텍스트도 있습니다。",
    "مرحبا بالعالم، كيف حالك؟ שלום עולם",
    "Emoji 🎉🎉🎉 and flags 🇺🇸🇫🇷 and families 👨‍👩‍👧‍👦!",
    "Combining: e\u0301 n\u0303 a\u0308\u0308 \u0301alone",
    "Große Straße, Ñandú, ÉCOLE, ǅungla, ǈ, İstanbul, ﬁne",
    "Пример текста на русском языке. ΑΒΓ αβγ",
    "Supercalifragilisticexpialidocious" * 20,
    "a" * 1000,
    "x9" * 400,
    " " * 50 + "x" + "\n" * 30,
    "{\"messages\":[{\"role\":\"user\",\"content\":\"What is 2+2?\"}],\"model\":\"gpt-4o\"}",
    "CamelCaseWordsAndALLCAPSAndMixedCASEword iPhone eBay McDonald's",
    "tab\tseparated\tvalues\t\t\n",
    "...!!!???---///\\\\|||",
    "",
]


def corpus_texts():
    out = []
    for body in sorted(glob.glob(os.path.join(harness.CORPUS, "*", "*.body"))):
        with open(body, "rb") as f:
            data = f.read()
        try:
            out.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            pass  # the binary event stream
    return out


def reference(texts, chat=None):
    if not os.path.exists(NODE):
        subprocess.run([os.path.join(HERE, "..", "..", "scripts", "install-node18.sh"),
                        os.path.join(harness.BUILD_ROOT, "node18")], check=True, stdout=subprocess.DEVNULL)
    p = subprocess.run([NODE, os.path.join(HERE, "tokcount_reference.js")], input=json.dumps({"texts": texts, "chat": chat}).encode(),
                       capture_output=True, check=True,
                       env=dict(os.environ, LD_LIBRARY_PATH=os.path.join(harness.BUILD_ROOT, "node18", "usr", "lib",
                                                                          "x86_64-linux-gnu")))
    return json.loads(p.stdout)


def ours(enc, text, slice_size):
    table = os.path.join(TABLES, enc + ".bpe")
    p = subprocess.run([TOKCOUNT, enc.split("_")[0], table, str(slice_size)], input=text.encode("utf-8"),
                       capture_output=True, check=True)
    return int(p.stdout)


class StreamEstimate(harness.Case):
    def test_stream_without_usage_is_estimated_as_tiktoken_counts(self):
        from test_curl_h1 import curl_call
        case = "openai/chat_stream_no_usage_gpt35_2023"
        meta, body = harness.load_case(case)
        completion = ""
        for line in body.decode().splitlines():
            if line.startswith("data: {"):
                for choice in json.loads(line[6:])["choices"]:
                    completion += choice["delta"].get("content", "")
        chat = {"messages": json.loads(meta["request_body"])["messages"], "completion": completion}
        want = reference([], chat)["cl100k_base_chat"]  # gpt-3.5-turbo is cl100k_base
        before = len(self.world.records())
        for framing in ("chunked", "gzip"):
            self.world.run(curl_call(self.world, case, framing, ["-o", "/dev/null"]), SPATURZU_AGENT="estimate")
        recs = self.world.wait_records(before + 2)[before:]
        self.assertEqual(len(recs), 2)
        for rec in recs:
            self.assertEqual(rec["usageSource"], "tiktoken")
            self.assertEqual(rec["promptTokens"], want["prompt"])
            self.assertEqual(rec["completionTokens"], want["completion"])
            self.assertNotIn("cachedInputTokens", rec)


class Tokenizer(unittest.TestCase):
    def test_counts_equal_tiktoken(self):
        texts = SAMPLES + corpus_texts()
        ref = reference(texts)
        for enc in ("o200k_base", "cl100k_base"):
            for text, want in zip(texts, ref[enc]):
                for slice_size in (65536, 7, 1):
                    got = ours(enc, text, slice_size)
                    self.assertEqual(got, want, "%s, slices of %d: %d tokens, tiktoken says %d, for %r" %
                                     (enc, slice_size, got, want, text[:80]))


    def test_pieces_longer_than_the_buffer_stay_close(self):
        # Beyond 1024 code points a piece is counted in parts: a bounded
        # buffer in the host process, at the price of a slightly high count.
        texts = ["a" * 3000, "QUJD" * 1500]
        ref = reference(texts)
        for enc in ("o200k_base", "cl100k_base"):
            for text, want in zip(texts, ref[enc]):
                got = ours(enc, text, 100)
                self.assertGreaterEqual(got, want)
                self.assertLessEqual(got, want * 1.05 + 2, "%s: %d vs %d" % (enc, got, want))


if __name__ == "__main__":
    unittest.main(verbosity=2)

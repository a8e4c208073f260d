"""The tokenizer parity corpus: texts written out here or combined programmatically (no downloads).

Every category the tokenizer issue names has its own generator: many scripts and languages,
emoji and ZWJ sequences, combining marks vs precomposed characters, whitespace runs and mixed
\\r\\n, digits, English contractions in both cases, code, URLs, special tokens inside text, long
inputs, plus a sweep over code points of many Unicode blocks. `build_corpus()` is deterministic.
"""

import random
import unicodedata

LANGUAGES = {
    "en": "The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs!",
    "fr": "Le cœur déçu mais l'âme plutôt naïve, Louÿs rêva de crapaüter en canoë au delà des îles.",
    "de": "Falsches Üben von Xylophonmusik quält jeden größeren Zwerg. Straße, Maß, Fußgängerübergänge.",
    "es": "El veloz murciélago hindú comía feliz cardillo y kiwi. ¿Dónde está la señal? ¡Olé!",
    "pt": "Luís argüia à Júlia que «brações, fé, chá, óxido, pôr, zângão» eram palavras do português.",
    "it": "Quel vituperabile xenofobo zelante assaggia il whisky ed esclama: alleluja! Perché così?",
    "nl": "Pa's wijze lynx bezag vroom het fikse aquaduct. Ĳsselmeer, één, coördinatie, reünie.",
    "pl": "Zażółć gęślą jaźń. Pchnąć w tę łódź jeża lub ośm skrzyń fig. Źdźbło, chrząszcz.",
    "cs": "Příliš žluťoučký kůň úpěl ďábelské ódy. Řeřicha, čtvrť, ucpěte!",
    "tr": "Pijamalı hasta yağız şoföre çabucak güvendi. İstanbul'da ılık bir gün; IĞDIR, ığdır.",
    "ro": "Fumegând hipnotic sașiul azvârle mreje în bălți. Țară, știință, învățământ.",
    "hu": "Árvíztűrő tükörfúrógép. Egy hűtlen vejét fülöncsípő, dühös mexikói úr.",
    "fi": "Törkylempijävongahdus. Hyvää päivää, mitä kuuluu? Äiti ja isä söivät jäätelöä.",
    "sv": "Flygande bäckasiner söka hwila på mjuka tuvor. Räksmörgås, åäö ÅÄÖ.",
    "is": "Kæmi ný öxi hér, ykist þjófum nú bæði víl og ádrepa. Þórður, Ðóra, æði.",
    "vi": "Tiếng Việt có dấu: Tôi yêu tiếng nước tôi từ khi mới ra đời. Người ơi, đừng đi!",
    "ru": "Съешь же ещё этих мягких французских булок, да выпей чаю. ЁЛКА, ёлка, Щука.",
    "uk": "Чуєш їх, доцю, га? Кумедна ж ти, прощайся без ґольфів! Їжак, ґанок, Євген.",
    "bg": "Жълтата дюля беше щастлива, че пухът, който цъфна, замръзна като гьон.",
    "sr": "Ајшо, лепото и чежњо, за љубав срца мога дођи у Хаџиће на кафу. Đorđe, Ćuprija.",
    "el": "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Ἀρχὴ σοφίας φόβος Κυρίου· ΆΈΉΊΌΎΏ ΐΰ.",
    "hy": "Բարեւ ձեզ, ինչպե՞ս եք։ Հայաստանի Հանրապետություն, Երևան։",
    "ka": "გამარჯობა, როგორ ხარ? საქართველოს დედაქალაქი თბილისია.",
    "he": "דג סקרן שט בים מאוכזב ולפתע מצא חברה. שָׁלוֹם עֲלֵיכֶם!",
    "yi": "אַ גוטן טאָג, װי גײט עס? ייִדיש איז אַ שײנע שפּראַך.",
    "ar": "صِف خَلقَ خَودِ كَمِثلِ الشَمسِ إِذ بَزَغَت. مرحباً بالعالم! ١٢٣٤٥٦٧٨٩٠",
    "fa": "سلام دنیا! زبان فارسی بسیار زیباست. ۱۲۳۴۵۶۷۸۹۰ می‌خواهم بروم.",
    "ur": "اردو ایک خوبصورت زبان ہے۔ آپ کیسے ہیں؟",
    "hi": "ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले विष्णुवतार भगवान श्रीराम। क़ ख़ ग़ ज़",
    "mr": "महाराष्ट्र राज्याची राजधानी मुंबई आहे. ज्ञानेश्वरी, ळ, ऱ्ह",
    "bn": "আমি বাংলায় গান গাই। কৃষ্ণচূড়া, ক্ষুধা, য়, ড়, ঢ়।",
    "pa": "ਪੰਜਾਬੀ ਭਾਸ਼ਾ ਗੁਰਮੁਖੀ ਲਿਪੀ ਵਿੱਚ ਲਿਖੀ ਜਾਂਦੀ ਹੈ। ਖ਼ ਗ਼ ਜ਼ ਫ਼",
    "gu": "ગુજરાતી ભાષા ખૂબ સુંદર છે. અમદાવાદ, સુરત.",
    "ta": "யாமறிந்த மொழிகளிலே தமிழ்மொழி போல் இனிதாவது எங்கும் காணோம். கௌ, ஷ்",
    "te": "తెలుగు భాష చాలా అందమైనది. దేశ భాషలందు తెలుగు లెస్స.",
    "kn": "ಕನ್ನಡ ಭಾಷೆ ಕರ್ನಾಟಕದ ಅಧಿಕೃತ ಭಾಷೆ. ಕೈ, ಕೊ, ಕೋ",
    "ml": "മലയാളം ഒരു ദ്രാവിഡ ഭാഷയാണ്. കൊ, കോ, കൌ, ൽ ൾ",
    "si": "සිංහල භාෂාව ශ්‍රී ලංකාවේ නිල භාෂාවකි.",
    "th": "เป็นมนุษย์สุดประเสริฐเลิศคุณค่า กว่าบรรดาฝูงสัตว์เดรัจฉาน ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ",
    "lo": "ພາສາລາວເປັນພາສາທາງການຂອງປະເທດລາວ",
    "km": "ភាសាខ្មែរជាភាសាផ្លូវការរបស់ប្រទេសកម្ពុជា។",
    "my": "မြန်မာဘာသာစကားသည် မြန်မာနိုင်ငံ၏ ရုံးသုံးဘာသာစကား ဖြစ်သည်။",
    "bo": "བོད་ཡིག་ནི་བོད་ཀྱི་ཡི་གེ་ཡིན། བཀྲ་ཤིས་བདེ་ལེགས།",
    "mn": "Монгол хэл бол Монгол улсын албан ёсны хэл юм. ᠮᠣᠩᠭᠣᠯ ᠬᠡᠯᠡ",
    "am": "አማርኛ የኢትዮጵያ የሥራ ቋንቋ ነው። ሰላም ለዓለም።",
    "ti": "ትግርኛ ቋንቋ ኤርትራን ኢትዮጵያን እዩ።",
    "zh": "我能吞下玻璃而不伤身体。人工智能正在改变世界，大型语言模型的发展日新月异！",
    "zh_tw": "我能吞下玻璃而不傷身體。繁體中文與簡體中文有許多差異，例如「臺灣」與「台湾」。",
    "yue": "我哋今日去咗飲茶，啲點心好好食㗎！冇問題，係咪？",
    "ja": "私はガラスを食べられます。それは私を傷つけません。カタカナ、ひらがな、漢字、ｶﾀｶﾅ。",
    "ko": "나는 유리를 먹을 수 있어요. 그래도 아프지 않아요. 한국어 키보드 ㄱㄴㄷ ㅏㅑㅓ.",
    "sw": "Kiswahili ni lugha ya Kibantu inayozungumzwa Afrika Mashariki. Habari yako?",
    "yo": "Ẹ kú àárọ̀! Báwo ni? Yorùbá ń lo àmì ohùn: ọ̀, ẹ́, ṣ.",
    "ha": "Hausa harshe ne na Afirka ta Yamma. Ƙasa, ɗaki, ɓera.",
    "ig": "Asụsụ Igbo bụ asụsụ ndị Igbo. Ị̀ nọ̀ ọ̀ma?",
    "eo": "Eĥoŝanĝo ĉiuĵaŭde. Laŭ Ludoviko Zamenhof bongustas freŝa ĉeĥa manĝaĵo kun spicoj.",
    "ga": "D'fhág sé slán ag a mhuintir. Tá Gaeilge á labhairt in Éirinn.",
    "cy": "Parciais fy jac codi baw hud llawn dŵr ger tŷ Mabon. Ŵ Ŷ ŵ ŷ.",
    "lv": "Glāžšķūņa rūķīši dzērumā čiepj Baha koncertflīģeļu vākus.",
    "lt": "Įlinkdama fechtuotojo špaga sublykčiojusi pragręžė apvalų arbūzą.",
    "kk": "Қазақ тілі түркі тілдерінің бірі. Әлем, ғылым, қала, ңғ, өмір, ұлы, үй, һ, і.",
    "az": "Azərbaycan dili türk dillərindən biridir. Əlifba, ğ, ı, ö, ş, ü, ç.",
    "chr": "ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ ᎠᏂᏴᏫᏯ",
    "iu": "ᐃᓄᒃᑎᑐᑦ ᑎᑎᕋᐅᓯᖅ ᖃᓂᐅᔮᖅᑐᖅ",
    "got": "𐌲𐌿𐍄𐌹𐍃𐌺 𐍂𐌰𐌶𐌳𐌰",
    "math": "∀x∈ℝ: x²≥0, ∑ᵢ₌₁ⁿ i = n(n+1)/2, ∫₀^∞ e^{-x²} dx = √π/2, 𝔸𝔹ℂ 𝒜ℬ𝒞 𝐀𝐁𝐂.",
}

EMOJI = [
    "😀😃😄😁😆😅😂🤣", "👍👍🏻👍🏼👍🏽👍🏾👍🏿", "👩‍👩‍👧‍👦 family", "👨‍💻 coding at 3am",
    "🏳️‍🌈 and 🏴‍☠️", "🇺🇸🇬🇧🇯🇵🇩🇪🇫🇷🇨🇳", "🏴󠁧󠁢󠁥󠁮󠁧󠁿 England", "1️⃣2️⃣3️⃣#️⃣*️⃣",
    "❤️ vs ❤ vs ♥︎", "🧑🏽‍🤝‍🧑🏿", "🫠🫶🪿🫎", "☺️☹️☠️", "I ❤️ NY!!! 🗽🗽",
    "👁️‍🗨️", "🤷‍♀️🤷‍♂️🤷", "emoji🙂inside🙃words", "🇦", "‍zwj‍alone‍", "a\u200db\u200cc",
]

COMBINING = [
    "é vs e\u0301", "Å vs A\u030a vs \u212b", "Ω vs \u2126", "ñ n\u0303 N\u0303",
    "Ệ E\u0323\u0302 E\u0302\u0323", "q\u0307\u0323 q\u0323\u0307", "\u1100\u1161\u11a8 vs 각",
    "\uf900\uf901 compatibility ideographs", "\u0958\u0959 nukta (composition exclusions)",
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349a\u0337l\u0341g\u0361o",
    "a\u0300\u0301\u0302\u0303\u0304\u0305", "\u0301 leading combining mark", "ﬁ ﬂ ﬀ ligatures",
    "\u00c7a\u0327 \u1e09 c\u0327\u0301", "\u0344 \u0340 \u0341 \u0343 \u0374 \u037e \u0387",
    "הּ שׁ שּׁ", "\u0627\u0653 \u0622", "\u09c7\u09be \u09cb", "\u0b47\u0b3e \u0b4b",
    "\u1025\u102e \u1026", "\u0d46\u0d3e \u0d4a", "가\u11a8 한\u1100",
]

WHITESPACE = [
    "a  b   c    d", "\t\ttabs\t\tand  spaces ", "line1\nline2\r\nline3\rline4",
    "\r\n\r\n\r\n", "\n\n\nthree newlines before", "trailing spaces   ", "   leading spaces",
    "mixed \t \n \r\n \t end", "nbsp\u00a0here\u00a0\u00a0twice", "ideographic\u3000space\u3000\u3000",
    "thin\u2009space\u200aand\u202fnarrow", "zero\u200bwidth\u200bspace", "bom\ufeffinside",
    "vertical\x0btab\x0cformfeed", "next\x85line", "line\u2028sep para\u2029sep",
    "mongolian\u180evowel", "ogham\u1680space", " ", "  ", "\n", "\r", "\t", " \n ",
    "x\n \ny", "a \r\n b", "\u00a0\u00a0", "end with newline\n", "  \n  \n  ",
    "code:\n    indented\n\tTabbed\n  \n", "\x00nul\x00char", "\x1b[31mansi\x1b[0m",
]

DIGITS = [
    "0123456789", "3.14159265358979323846", "1,234,567.89 and 1.234.567,89",
    "+1 (555) 123-4567", "2024-02-29T23:59:59Z", "٠١٢٣٤٥٦٧٨٩ Arabic-Indic", "۰۱۲۳۴۵۶۷۸۹ Persian",
    "०१२३४५६७८९ Devanagari", "０１２３４５６７８９ fullwidth", "¹²³ ₁₂₃ ½ ¾ ⅓", "Ⅰ Ⅱ Ⅲ Ⅳ ⅻ roman",
    "𝟎𝟏𝟐 𝟘𝟙𝟚 math digits", "①②③ ⑴⑵⑶", "x86_64 i386 arm64 v2.0.1", "1e-10 6.022e23 0xFF 0b1010",
    "99.9% of 1000000 = 999000", "$1,000.00 €20 £3 ¥400 ₹50", "12345678901234567890123456789",
    "三千五百 二〇二四年 第1章", "1st 2nd 3rd 4th 21st",
]

CONTRACTIONS = [
    "I'm you're he's she'd we'll they've it's don't can't won't shouldn't",
    "I'M YOU'RE HE'S SHE'D WE'LL THEY'VE IT'S DON'T CAN'T WON'T SHOULDN'T",
    "I'm YOU'Re He'S sHe'D We'Ll tHEY'vE", "'s 't 're 've 'm 'll 'd", "'S 'T 'RE 'VE 'M 'LL 'D",
    "rock'n'roll o'clock y'all ma'am", "it’s curly ’s ‘quoted’", "'tis 'twas", "Jones' James's",
    "don''t it'''s", "'ſ long s IT'ſ", "L'HOMME l'homme d'accord", "'", "''", "'''",
]

CODE = [
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "#include <vector>\nint main() {\n\tstd::vector<int> v{1, 2, 3};\n\treturn v[0] == 1 ? 0 : 1;\n}\n",
    "const f = async (x) => { await x?.y ?? 0; return `t${x}`; };",
    "fn main() { let s: &str = \"hi\"; println!(\"{s:?}\"); }",
    "<html><body class=\"x\"><p>Hi &amp; bye</p></body></html>",
    "{\"key\": [1, 2.5, null, true], \"nested\": {\"a\": \"b\"}}",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC;",
    "for f in *.txt; do echo \"$f\" | tr a-z A-Z >> out.log; done",
    "x+=1;y-=2;z*=3;w/=4;a%=5;b**=6;c//=7;d<<=1;e>>=1;f&=1;g|=1;h^=1",
    "    # comment with trailing spaces    \n\n\n    pass\n",
    "if (a && b || !c) { return a->b.c[d]; } // done",
    "$ ls -la /usr/local/bin | grep -E '^d' && cd ~/src",
    "\\begin{equation} E = mc^2 \\end{equation}",
    "regex: ^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$",
    "    \t  mixed_indent = True\n\t    other = False",
    "a=b==c!=d<=e>=f=>g->h::i...j", "/* */ // # -- ;; %% !!",
]

URLS = [
    "https://www.example.com/path/to/page?query=1&b=two#frag",
    "http://localhost:8080/api/v1/users/123", "ftp://ftp.example.org/pub/file.tar.gz",
    "mailto:someone@example.com", "Contact: first.last+tag@sub.example.co.uk",
    "https://zh.wikipedia.org/wiki/中文", "https://example.com/%E4%B8%AD%E6%96%87?x=%20",
    "www.google.com/search?q=tokenizer+parity", "C:\\Users\\name\\Documents\\file.txt",
    "/home/user/.config/app/settings.json", "git@github.com:org/repo.git",
    "See https://arxiv.org/abs/2602.00508v1.", "<https://example.com>", "[link](http://a.b/c_d)",
]

SPECIAL_TOKENS = [
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|vision_start|>", "<|vision_end|>",
    "<|image_pad|>", "<|video_pad|>", "<|vision_pad|>", "<|object_ref_start|>", "<|box_end|>",
    "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|repo_name|>",
    "<think>", "</think>", "<tool_response>",
]

NEAR_MISSES = ["<|im_start", "im_start|>", "<|im_start |>", "< |im_end|>", "<|IM_START|>",
               "<|im_start||>", "<<|im_end|>>", "<|endoftext|", "<thinking>", "<think", "</think"]


def special_token_texts(rng):
    out = []
    for tok in SPECIAL_TOKENS:
        out.append(f"before{tok}after")
        out.append(f"a {tok} b")
        out.append(f"{tok}\n")
        out.append(f"{tok}{tok}")
    out += [f"x{m}y" for m in NEAR_MISSES]
    out.append("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n")
    out.append("<|vision_start|><|image_pad|><|image_pad|><|image_pad|><|vision_end|>Describe.")
    out.append("é<|im_end|>\u0301 combining after a special token")
    out.append("<|endoftext|>" * 20)
    for _ in range(20):
        parts = [rng.choice(SPECIAL_TOKENS + NEAR_MISSES + list(LANGUAGES.values()))[:40]
                 for _ in range(rng.randint(2, 6))]
        out.append(rng.choice(["", " ", "\n"]).join(parts))
    return out


def code_point_sweep():
    """Texts that put characters of many blocks next to letters, digits, spaces and newlines.

    Only characters assigned in Unicode 3.2 are used, so that differences between the Unicode
    versions of Oniguruma (HF), PCRE2 and utf8proc cannot show up."""
    old = unicodedata.ucd_3_2_0
    texts = []
    ranges = [(0x20, 0x800, 1), (0x800, 0x3000, 3), (0x3000, 0xA000, 37), (0xA000, 0xFFFE, 5),
              (0x10000, 0x2FFFF, 97)]
    for lo, hi, step in ranges:
        chunk = []
        for cp in range(lo, hi, step):
            if 0xD800 <= cp <= 0xDFFF:
                continue
            c = chr(cp)
            if old.category(c) in ("Cn", "Cs", "Co"):
                continue
            chunk.append(f"a{c}b {c}{c}1{c}\n{c} ")
            if len(chunk) == 60:
                texts.append("".join(chunk))
                chunk = []
        if chunk:
            texts.append("".join(chunk))
    return texts


def variations(rng, base):
    """A text in several shapes: cases, surrounding whitespace, joined punctuation."""
    return [base, base.upper(), base.lower(), " " + base, base + "\n", "\n\n" + base + "  ",
            base.replace(" ", "  "), base.replace(" ", "\n"), base.replace(". ", ".\r\n"),
            "\"" + base + "\"", f"({base})"[: rng.randint(5, len(base) + 2)]]


def long_texts(rng, pool):
    out = []
    for size in (2_000, 10_000, 50_000):
        parts = []
        while sum(len(p) for p in parts) < size:
            parts.append(rng.choice(pool))
        out.append(rng.choice(["\n", " ", "\n\n", ""]).join(parts))
    out.append("a" * 5000)
    out.append("ab" * 3000)
    out.append("的" * 3000)
    out.append(LANGUAGES["zh"].replace("，", "").replace("。", "").replace("！", "") * 40)
    out.append("1234567890" * 500)
    out.append(" " * 3000 + "x")
    out.append("\n" * 1000)
    out.append("=" * 2000)
    out.append("😀" * 1000)
    out.append("e\u0301" * 1000)
    out.append("A" + "\u0301" * 500)
    return out


def random_mixes(rng, pool, count):
    out = []
    for _ in range(count):
        pieces = [rng.choice(pool) for _ in range(rng.randint(2, 5))]
        sep = rng.choice(["", " ", "\n", "\r\n", "\t", "  ", ". "])
        out.append(sep.join(pieces))
    return out


def build_corpus():
    rng = random.Random(20260211)
    corpus = []
    for text in LANGUAGES.values():
        corpus += variations(rng, text)
    for group in (EMOJI, COMBINING, WHITESPACE, DIGITS, CONTRACTIONS, CODE, URLS):
        corpus += group
    corpus += special_token_texts(rng)
    corpus += code_point_sweep()
    pool = (list(LANGUAGES.values()) + EMOJI + COMBINING + WHITESPACE + DIGITS + CONTRACTIONS +
            CODE + URLS)
    corpus += random_mixes(rng, pool, 120)
    corpus += long_texts(rng, pool)
    corpus.append("")
    # Keep order, drop exact duplicates (upper/lower of caseless scripts repeat).
    seen, unique = set(), []
    for text in corpus:
        if text not in seen:
            seen.add(text)
            unique.append(text)
    return unique

"""The rules behind user-agent classification, as data, compiled into one RE2 set.

A browser's user agent has a grammar: ``Mozilla/5.0 (platform) engine/version ...`` (or the
older ``Opera/9.80 (...) Presto/...``). What sends anything else is a program, and a program
is automated unless it is an *app* acting for a person: a feed reader, a podcast or media
player, an office or desktop (Electron) app, a device's own HTTP stack (iOS ``CFNetwork``,
Android ``Dalvik``, a TV's HbbTV). So the classifier asks a handful of questions of the
string, and every question is one pattern in one :class:`re2.Set`: one linear-time pass
answers all of them, however long the lists grow.

The external crawler patterns come vetted (``data/crawler_patterns.txt``, written by
``scripts/vet_ua_rules.py``): a pattern that matched a real browser or app in the training
corpora was anchored to word boundaries or dropped (``data/crawler_patterns_dropped.tsv``).
The word lists below are held to the same corpora by the same script.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

import re2

#: HTTP libraries and browser-automation tools: (label, pattern), case-insensitive.
AUTOMATION_TOOLS: tuple[tuple[str, str], ...] = (
    ("curl", r"\b(?:py)?curl/"),
    ("wget", r"\bwget2?/"),
    ("python-requests", r"python-requests"),
    ("httpx", r"python-httpx|\bhttpx/"),
    ("aiohttp", r"aiohttp"),
    ("scrapy", r"scrapy"),
    ("python-urllib", r"python-urllib|\bpython/\d|^python[ -]|\burllib3/"),
    ("go-http-client", r"go-http-client|\bgo \d\.\d+ package http"),
    ("java", r"^java/|\bjava/\d|apache-http(?:async)?client|jakarta commons-httpclient|"
             r"\breactor-netty/|\bktor-client|\bjersey/|\bvertx-|\bakka-http/"),
    ("okhttp", r"okhttp"),
    ("node", r"node-fetch|\baxios/|\bundici\b|\bgot \(|^got/|\bnode\.js|\bnode/\d|"
             r"superagent|\bneedle/|^deno/|^bun/"),
    ("libwww-perl", r"libwww-perl|lwp::|\bmechanize"),
    ("ruby", r"^ruby\b|faraday|rest-client|typhoeus"),
    ("php", r"guzzlehttp|^php/|\bphp-curl|\bhttp_request2?\b|\bpecl::http"),
    ("dotnet", r"restsharp|\bwinhttp|powershell"),
    ("rust", r"\breqwest\b|\bisahc\b|\bhyper/|^ureq/"),
    ("dart", r"^dart/|dart:io"),
    ("httpie", r"\bhttpie/"),
    ("postman", r"postmanruntime|insomnia/"),
    # package managers and download tools fetch files, never read pages for a person
    ("package-manager", r"^(?:pip|npm|yarn|pnpm|cargo|composer|nuget|bundler|rubygems|"
                        r"homebrew|conda|poetry|uv|apt-http|gradle|maven)/\d"),
    ("downloader", r"^aria2/|\bhttrack\b|^axel/|^lftp/"),
    ("headless-chrome", r"headless ?chrome"),
    ("phantomjs", r"phantomjs"),
    ("puppeteer", r"puppeteer"),
    ("playwright", r"playwright"),
    ("selenium", r"selenium|webdriver"),
    ("cypress", r"\bcypress/\d"),
    ("electron-scraper", r"\bslimerjs|\bcasperjs|\bzombie\.js|\bjsdom\b"),
    ("colly", r"\bcolly\b"),
    ("nutch", r"\bnutch\b"),
)

HEADLESS_TOOLS = frozenset({"headless-chrome", "phantomjs", "puppeteer", "playwright",
                            "selenium", "cypress", "electron-scraper"})

# A word "counts" when it is not a device model: "M bot 51", "Spider 8" and "VR BOT 552"
# are phones in the platform comment, a word then a model number. RE2 has no look-ahead, so
# the word must be followed by the end, punctuation, or a space and then no digit.
_END = r"(?:$|[^a-z0-9\s]|\s+[^0-9\s])"

#: Words crawler operators put in their agents' names and browsers never carry.
SELF_IDENTIFIED: tuple[str, ...] = (
    r"[a-z0-9_-]crawl", r"\bcrawl(?:er|ing)?" + _END, r"spider" + _END, r"scraper", r"extractor\b",
    r"[a-z0-9_-]bot" + _END, r"\bbot" + _END, r"\brobot\b", r"\bfetch(?:er)?\b",
    r"monitor(?:ing)?\b", r"\bchecker\b", r"\blink ?check", r"\bscanner\b", r"\bseo\b",
    r"archiver", r"\bpreview\b", r"validator", r"\banaly[sz]er\b", r"\bindexer\b",
    r"\bheadless\b", r"\buptime\b", r"\bsynthetic", r"\bprobe\b", r"prospect(?:ing|or)",
)

#: Product tokens that name a service, not a browser, appended to an otherwise browser-shaped
#: string ("... Safari/537.36 CloudflareObservatory/1.0", "... SyntheticsAgent/1.2").
SERVICE_TOKENS: tuple[str, ...] = (
    r"[a-z](?:agent|observatory|monitor|synthetics?|checker|tester|audit|lighthouse|"
    r"pagespeed|render(?:er|tron)|prerender|screenshot|insights?|diagnostics?|inspector|"
    r"measurement)/",
    r"\b(?:observatory|synthetics?|lighthouse|page ?speed|prerender|screenshot)(?:/|\b)",
    r"\b(?:chrome-lighthouse|gtmetrix|pingdom|uptimerobot|statuscake|site24x7)\b",
    # Google's services sign "Google-<Service>"; "Google-Pixel_8" is a phone (an app's
    # "Device/<maker>-<model>"), so "google-pix" is left out (RE2 has no look-ahead)
    r"\bgoogle-(?:[a-oq-z]|p(?:[^i]|i[^x]))|[a-z]-google\b|\bgooglead|"
    r"google (?:search|web) ?(?:console|light)",
    # "compatible" in a comment after the engine's token is how crawlers name themselves on
    # a browser string ("... (KHTML, like Gecko; compatible; Googlebot/2.1; ...)", "...
    # Safari/537.36 (compatible; AdsBot-Google-Mobile; ...)"); browsers since Internet
    # Explorer put it first, in the platform comment, if at all.
    r"(?:applewebkit|gecko|firefox|safari|chrome)/[^()]*\((?:[^()]*; ?)?compatible\b",
)

#: A contact address: a URL or e-mail (or the word "contact") is how crawler operators say who
#: they are.
CONTACT: tuple[str, ...] = (r"https?://", r"\bwww\.[a-z0-9-]+\.", r"@[a-z0-9-]+\.[a-z]{2,}",
                            r"\bcontact\b|\bcontato\b")

#: The browser grammar: a Mozilla product with a platform comment and a rendering engine
#: (WebKit/Blink, Gecko, Trident/MSIE), or legacy Opera with Presto.
BROWSER_SHAPES: tuple[str, ...] = (
    # The version may be written "5", a distribution may name itself before the comment
    # ("Mozilla/5.0 ArchLinux (X11; ...)"), and a phone or a wrapper may put its own product
    # token first ("LG-P760/P76010b Mozilla/5.0 (...)"; not "User-Agent:", a header's name
    # pasted into its value by a program).
    r"^(?:[^\s():]+(?:\([^()]*\))?;? )?mozilla/5(?:\.0)? ?(?:[a-z]+ )?"
    r"\((?:[^()]|\([^()]*\))*\)\s*(?:applewebkit|gecko|like gecko|presto|khtml)",
    r"^mozilla/[45]\.0 ?\([^)]*(?:msie \d|trident/\d|rv:\d)",
    r"^mozilla/5\.0 applewebkit/",
    # Netscape and early IE: a version, maybe a language, and a desktop platform comment.
    r"^mozilla/[1-4]\.\d+\S*\s*(?:\[[a-z-]+\]\s*)?\((?:x11|win|mac|compatible; msie)",
    # Opera before Presto named itself (9.2x, 9.5x), Presto and later; on phones after
    # Mozilla/5.0 or the handset's own token; masked as Mozilla, it names itself last.
    r"^(?:[^\s():]+ )?opera/\d+\.\d+\.?\s*\(",
    r"^mozilla/[45]\.0 \([^()]*\) opera \d",
)

#: A device's own HTTP stack or platform, sent by apps on phones, TVs and consoles.
APP_PLATFORMS: tuple[str, ...] = (
    r"\bcfnetwork/", r"\bdalvik/", r"\bapplecoremedia/", r"exoplayer",
    r"\bstagefright/", r"androiddownloadmanager/", r"cronet", r"\bmidp-\d", r"\bcldc-\d",
    r"\bucweb/", r"\bucbrowser/", r"\bup\.browser/", r"\bhbbtv/", r"\bnettv/", r"\bce-html",
    r"\bsmarttv", r"\bwindows phone", r"\biphone", r"\bipad", r"\bios[ /]\d", r"\bipados",
    r"\bwatchos", r"\btvos", r"\badr \d", r"\bipod",
    # Android in any spelling: "Android 13", "NPROneAndroid", "capsule-android", "Android_x"
    r"android",
    # Apple's system services: "<service> [<OS>,<version>,<build>,<model>]"
    r"\[(?:mac ?os(?: x)?|watch ?os|iphone ?os|ios|ipados|tv ?os),\d",
    # an app's bundle identifier (a reverse domain name) leading its string
    r"^(?:com|org|net|de|nl|be|fr|io|app|co|jp|cn|uk|ru|it|es|br|tv|me|ch|at|se|no|dk|fi|pl|"
    r"au)\.[a-z0-9_-]+\.[a-z0-9_.-]*[a-z]",
    r"\bplaystation", r"\bnintendo", r"\bxbox", r"\broku", r"\bkaios", r"\btizen",
    r"\bweb0s|\bwebos", r"\bnetcast", r"\bapple ?tv", r"\bapple watch",
    # feature phones, set-top boxes and media devices
    r"\bwap[ -]?browser", r"[a-z._ -]browser/", r"\bmaui\b", r"\bdocomo/", r"\bbrew[-/]",
    r"\bobigo", r"\bopenwave", r"\bteleca", r"\bmidp ?2", r"\bj2me", r"\bsymbian",
    r"\bseries ?[46]0", r"\bbada\b", r"\bblackberry", r"\bpalm ?os", r"\bcrkey/",
    r"\bkepler/", r"^amazon;", r"\bdlnadoc/", r"\bupnp/", r"\bairplay/", r"\bqtwebengine/",
    r"\bqtwebkit", r"\bamigaos", r"\biemobile", r"\bwindows ce", r"\bgarmin ", r"\bnetflix",
    r"\bhybridcast/", r"\bbrightsign/", r"\bgoogle fiber", r"\bmeego", r"\brisc ?os",
    r"\bios\b", r"\bmacos", r"\bvizios/", r"\bwin32nt", r"^watch\d", r"\bkreatv/", r"\bucweb",
    r"\bup/\d", r"\bwap\d", r"/screen-\d",
    # speakers, consoles, TVs and set-top boxes (";tpapi;": TuneIn's partner interface)
    r";tpapi;", r"\bsonos\b", r"\bsony_tv\b", r"\bzune/", r"\byouview", r"sagemcom",
    r"\bhumax\b",
    # Japanese carriers' feature phones and their browsers
    r"\bfoma\b", r"\bjig browser", r"\bwillcom\b", r"\bddipocket\b", r"^softbank/",
    r"^vodafone/", r"^kddi-", r"\bbrew\b",
    # what media, podcast and reading apps call themselves
    r"player\b", r"tuner\b", r"\bradio", r"\bpodcatcher", r"pod[a-z]*/\d", r"cast/\d",
    r"\bfm\b", r"\bmusic\b", r"\baudio\b", r"\bsyndication\b", r"\bvictorreader",
)

#: Known apps that act for a person, by name: feed readers, podcast and media players,
#: office and mail clients, desktop Electron apps, in-app web views, text-mode browsers.
#: Not named here: services whose bare name is what their servers fetch with (WhatsApp's and
#: Pinterest's link previews, Podimo's feed fetcher) and media libraries that tools embed
#: (FFmpeg's ``Lavf``, GStreamer); their apps name a device's platform, which is enough.
KNOWN_APPS: tuple[str, ...] = (
    # feed readers
    r"\bnetnewswire", r"\breeder\b", r"\bliferea", r"\bakregator", r"\bnewsboat",
    r"\bnewsbeuter", r"\bfeeddemon", r"\brssowl", r"\brssbandit", r"\bquiterss", r"\bevergreen",
    r"\breadkit\b", r"\bfeedstation", r"\bfeeddler", r"\bomea reader", r"\bpulp/",
    r"\bnewsflow", r"\bfluent reader",
    # podcast and audio apps
    r"podcast", r"\bovercast\b", r"\bpocket ?casts", r"\bcastro\b", r"\bcastbox",
    r"\bantennapod", r"\bdowncast", r"\binstacast", r"\bpodbean", r"\bpodkicker", r"\bgpodder",
    r"\bcastamatic", r"\bspotify", r"\bdeezer", r"\bpandora", r"\btunein", r"\biheartradio",
    r"\bstitcher", r"\bluminary", r"\bpodverse", r"\bfountain/", r"\bbullhorn",
    r"\bplayapod", r"\bpodme\b", r"\bgoodpods", r"\bcastero", r"\bitunes",
    r"\bsoundcloud", r"\banghami", r"\bjuice/", r"\bpodhero", r"\bbreaker/",
    r"\bhypercatcher/", r"\bpodtrapper\b", r"\bpodyssey\b", r"\bpodpuppy\b", r"\bivoox\b",
    r"\bxiaoyuzhou/", r"^soundon/", r"^soundwaves-", r"^outcast \d", r"\bservestream\b",
    r"\bcastget\b", r"^newsly$", r"^airr\b", r"^bpod$", r"hermespod\.com", r"podchaser",
    r"\bdoubletwist\b", r"^bose/", r"^treble/", r"\bfeed ?reader",
    # media players and smart speakers
    r"\bvlc/", r"\blibvlc", r"\bkodi/", r"\bxbmc/", r"\bmplayer", r"\bmpv\b", r"\bwinamp",
    r"\bfoobar2000", r"\baudacious", r"\brhythmbox", r"\bclementine", r"\bstrawberry/",
    r"\bmusicbee", r"\bwindows-media-player", r"\bnsplayer", r"\bquicktime",
    r"\bamazonmusic", r"\bamarok/", r"\btivimate", r"\bplex(?:amp)?/",
    r"\bdillo/", r"\bairsonic", r"\bawasu", r"\bbashpodder", r"\bcpod/",
    # office, mail and desktop apps (Electron and native)
    r"\bmicrosoft office", r"\bmicrosoft outlook", r"\bms-office", r"\bthunderbird",
    r"\belectron/", r"\bslack/", r"\bdiscord/", r"\bteams/", r"\bnotion/", r"\bobsidian/",
    r"\bcursor/", r"\bcode/\d", r"\bfigma/", r"\bzoom/", r"\btelegram/",
    r"\bsignal-desktop", r"\bskype", r"\bgoggalaxy", r"\bsteam/", r"\b1password",
    r"\bdropbox", r"\bonedrive", r"\bcitrixreceiver", r"\bevernote", r"^the bat! ",
    r"^postbox \d", r"^word/\d+\.\d+.*\bmac os/", r"^mediago/", r"^handbrake ",
    r"\bccleaner\b", r"^aida64$", r"^cpuid$", r"^utorrent/",
    # the operating system's own services, and apps checking for their own updates
    r"^microsoft-cryptoapi/", r"^microsoft-delivery-optimization/", r"^windows-update-agent/",
    r"\b(?:win)?sparkle/",
    # in-app web views
    r"\[fban", r"\bfbav/", r"\binstagram", r"\bline/\d", r"\bmicromessenger", r"\bkakaotalk",
    r"\btiktok", r"\bmusical_ly", r"\bsnapchat", r"\btwitter for ",
    r"\btwitterandroid", r"\bgsa/",
    r"\bwp-android", r"\bwp-iphone",
    # an embedded engine in a desktop program (Delphi's Internet Explorer component)
    r"\bembedded web browser\b",
    # text-mode and niche browsers
    r"^lynx/", r"^links\b", r"^elinks", r"^w3m/", r"\bmosaic|mosaic\b", r"\bnetfront",
    r"\bdolfin", r"\bbunjalloo", r"\bmonazilla", r"^sleipnir/\d",
    # browsers of the 1990s and of handhelds before smartphones
    r"\bhotjava/", r"\bnetpositive/", r"\bwebtv/", r"\(charon;", r"\boffbyone\b",
    r"\bamiga-aweb\b", r"\baweb/", r"^amaya/", r"^palmscape/", r"^xiino/",
    r"\bworldgate gazelle",
)


#: Words of phones and tablets (``UAInfo.is_mobile``): asked here, in the same pass, rather
#: than by parsing the device.
HANDHELD: tuple[str, ...] = (
    r"mobile|android|iphone|ipad|ipod|windows phone|tablet|kindle|silk/|opera mini|blackberry"
    r"|kaios",
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the rule set found in one string: each a yes/no, the tool by name."""

    tool: str | None
    listed: bool
    """A vetted external crawler pattern matched."""
    words: bool
    """The string names itself a crawler, monitor, scanner..."""
    service: bool
    contact: bool
    browser_shaped: bool
    app_platform: bool
    known_app: bool
    handheld: bool


def crawler_patterns() -> list[str]:
    """The vetted external patterns shipped with the package (one a line)."""
    text = resources.files("antiscrape").joinpath("data/crawler_patterns.txt").read_text()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


_GROUPS = ("listed", "words", "service", "contact", "browser_shaped", "app_platform",
           "known_app", "handheld")


def _rules(listed: Iterable[str]) -> list[tuple[str, str]]:
    rules: list[tuple[str, str]] = [(f"tool:{name}", p) for name, p in AUTOMATION_TOOLS]
    rules += [("listed", p) for p in listed]
    rules += [("words", p) for p in SELF_IDENTIFIED]
    rules += [("service", p) for p in SERVICE_TOKENS]
    rules += [("contact", p) for p in CONTACT]
    rules += [("browser_shaped", p) for p in BROWSER_SHAPES]
    rules += [("app_platform", p) for p in APP_PLATFORMS]
    rules += [("known_app", p) for p in KNOWN_APPS]
    rules += [("handheld", p) for p in HANDHELD]
    return rules


class RuleSet:
    """All the rules in one compiled RE2 set; :meth:`evidence` is one pass over the string."""

    def __init__(self, listed: Iterable[str]) -> None:
        options = re2.Options()
        options.case_sensitive = False
        options.max_mem = 256 << 20  # the lazily built DFA of ~1,600 patterns needs room
        self._set = re2.Set.SearchSet(options)
        self._labels: list[str] = []
        for label, pattern in _rules(listed):
            self._set.Add(pattern)
            self._labels.append(label)
        self._set.Compile()

    def evidence(self, raw: str) -> Evidence:
        found = dict.fromkeys(_GROUPS, False)
        first_tool = len(AUTOMATION_TOOLS)
        labels = self._labels
        for index in self._set.Match(raw) or ():
            if index < len(AUTOMATION_TOOLS):
                # The tools come first, in order of precedence: keep the first one named.
                first_tool = min(first_tool, index)
            else:
                found[labels[index]] = True
        tool = AUTOMATION_TOOLS[first_tool][0] if first_tool < len(AUTOMATION_TOOLS) else None
        return Evidence(tool, found["listed"], found["words"], found["service"],
                        found["contact"], found["browser_shaped"], found["app_platform"],
                        found["known_app"], found["handheld"])


@cache
def rules() -> RuleSet:
    """The package's rule set (compiled on first use)."""
    return RuleSet(crawler_patterns())

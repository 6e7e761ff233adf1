"""Generate the bundled teaching data of the "Model Efficiency" lecture.

Run from the repository root (standard library only, under ten seconds, byte-identical output):

    python -m course_lib.make_data        # or: python course_lib/make_data.py

Everything under ``course_lib/data/`` is written from one fixed seed; nothing downloads.

What it writes
--------------
* ``topic_{train,dev,test}.jsonl``: 2400 / 400 / 800 short English news sentences, balanced
  over the lecture's four topics (0 Sports, 1 Finance, 2 Technology, 3 Health). Each row also
  has a second label, ``sentiment`` (1 positive news tone, 0 negative), balanced inside each
  topic. The lecture's four example sentences ("The Houston Rockets won an intense overtime
  game", ...) are test items with their lecture labels.
* ``pretrain.txt``: 40k unlabelled one-line "articles" (1-4 sentences, ~1M words) for
  pre-training a tiny masked LM and a tiny causal LM. A quarter of the lines carry a natural
  cue that ties the content to a label word ("Sports: ...", "In health news, ...",
  "... What is the topic? Finance."), so that the zero-shot prompt
  "<sentence> What is the topic? [MASK]" has something to recall.
* ``lm_valid.txt``: 2000 held-out lines of the same distribution (perplexity).
* ``DATA_CARD.md``: sizes, generation, noise rates, baselines.

Why it looks the way it does
----------------------------
A toy data set where one keyword gives the label away teaches nothing: every model scores
100 %. So the generator makes bag-of-words models good (about 90 %) but not perfect:

* **Varied templates.** Each topic has 40+ sentence templates with different clause structures
  (plain clauses, "as" / "after" / "who" clauses, reported speech), optional openings
  ("On Friday, ...", "Despite a slow start, ...") and two-sentence items.
* **Shared entities.** Cities, people, companies and products are shared between topics: Tesla
  is in finance and technology news, a city has a team and hospitals, a player's knee surgery
  can be a sports or a health story, a fitness tracker is technology or health. Polysemous
  words ("recovery", "virus", "crash", "trial", "stocks", "team") appear in several topics.
* **Ambiguity.** Some items carry another topic's vocabulary: an event of another topic is
  attached ("..., a week after a measles outbreak in Houston"), a cross-over template is
  used ("Shares of health insurers jumped ..." is Finance), a template is shared by two topics
  and so is truly ambiguous ("Pfizer stock fell after its vaccine failed ..."), or a news brief
  of another topic follows the lead sentence ("... Meanwhile, ...").
* **Label noise.** A few percent of the *training* labels (topic and sentiment) are flipped at
  random; dev and test are clean.
* **Sentiment that needs context.** Direction words flip meaning with the subject ("flu cases
  rose" is bad news, "shares rose" good news), and "despite ..." openings add words of the
  opposite tone.

The vocabulary is kept small (about two thousand word types, numbers from a short list) so that
a word-level tokenizer sees nearly every word many times.
"""
from __future__ import annotations

import json
import random
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

SEED = 11  # lecture 11
DATA_DIR = Path(__file__).resolve().parent / "data"

TOPICS = ["Sports", "Finance", "Technology", "Health"]  # label ids 0..3
LABEL_WORDS = [t.lower() for t in TOPICS]

# (text, topic, sentiment): the lecture's examples, placed verbatim in the test split.
LECTURE_EXAMPLES = [
    ("The Houston Rockets won an intense overtime game", 0, 1),
    ("Bitcoin hit a new all-time high this week", 1, 1),
    ("Tesla launched a new self-driving software update", 2, 1),
    ("Flu cases are rising in several major cities", 3, 0),
]

SPLIT_SIZES = {"train": 600, "dev": 100, "test": 200}  # rows per topic
N_PRETRAIN_LINES = 40_000
N_VALID_LINES = 2_000

# Item mix (probabilities per topic item / sentence).
P_CROSS = 0.15  # cross-over template: vocabulary of another topic, label still clear
P_CONTEXT = 0.25  # main sentences only: "..., a week after a measles outbreak in Houston"
P_BRIDGE = 0.16  # ambiguous template shared by two topics
P_MIXED = 0.06  # lead sentence + a brief from another topic
P_FOLLOWUP = 0.18  # add a second sentence
P_CONTRAST = 0.12  # "despite <opposite tone>, <main clause>"
P_OPENING = 0.15  # "On Friday, ..." / "In Denver, ..."
P_FINAL_PERIOD = 0.55  # topic items end with "." (the lecture's examples do not)
NOISE_TOPIC = 0.04  # train only
NOISE_SENTIMENT = 0.03  # train only
P_CUE = 0.06  # pretrain lines with a label-word cue
P_CUE_WRONG = 0.2  # of those, the cue names a wrong topic (tags on the web are noisy)

# Bag-of-words baselines measured with the snippet in DATA_CARD.md (scikit-learn is not a
# dependency of this script; rerun the snippet and update these after changing the generator).
MEASURED_BASELINES = {
    "topic_logreg_test": 0.88,
    "sentiment_logreg_test": 0.901,
}

# --------------------------------------------------------------------------------------------
# Lexicon. A slot "{name}" is filled from LEX[name] or, for tone-bearing slots, from
# POLAR[name][sentiment]. Values may themselves contain slots.
# --------------------------------------------------------------------------------------------

CITIES = [
    "Houston", "Boston", "Chicago", "Denver", "Miami", "Dallas", "Phoenix", "Seattle",
    "Atlanta", "Detroit", "Toronto", "Portland", "Cleveland", "Philadelphia", "Orlando",
    "Milwaukee", "Memphis", "Sacramento", "Austin", "San Diego", "London", "Madrid", "Tokyo",
    "Berlin", "Paris", "Sydney", "Mumbai", "Seoul",
]

# Basketball teams: the city is shared with the hospitals, companies and weather of that city.
BASKETBALL = [
    ("Houston", "Rockets"), ("Boston", "Celtics"), ("Chicago", "Bulls"), ("Denver", "Nuggets"),
    ("Miami", "Heat"), ("Dallas", "Mavericks"), ("Phoenix", "Suns"), ("Atlanta", "Hawks"),
    ("Detroit", "Pistons"), ("Toronto", "Raptors"), ("Portland", "Trail Blazers"),
    ("Cleveland", "Cavaliers"), ("Philadelphia", "76ers"), ("Orlando", "Magic"),
    ("Milwaukee", "Bucks"), ("Memphis", "Grizzlies"), ("Sacramento", "Kings"),
]
FOOTBALL = [
    ("Dallas", "Cowboys"), ("Denver", "Broncos"), ("Seattle", "Seahawks"), ("Detroit", "Lions"),
    ("Miami", "Dolphins"), ("Atlanta", "Falcons"), ("Philadelphia", "Eagles"),
    ("Chicago", "Bears"), ("Houston", "Texans"), ("Cleveland", "Browns"),
]


def _team_names(pairs: list[tuple[str, str]]) -> list[str]:
    """'Houston Rockets' and the short form 'Rockets' for every team."""
    return [f"{c} {n}" for c, n in pairs] + [n for _, n in pairs]


LEX: dict[str, list[str]] = {
    "city": CITIES,
    "team": _team_names(BASKETBALL),
    "fteam": _team_names(FOOTBALL),
    "club": [
        "Real Madrid", "Barcelona", "Arsenal", "Chelsea", "Liverpool", "Bayern Munich",
        "Juventus", "Ajax", "Manchester United", "Atletico Madrid", "Inter Milan", "Celtic",
    ],
    "first": [
        "Marcus", "Jalen", "Tyler", "Kevin", "Luka", "Andre", "Chris", "Devin", "Jordan",
        "Malik", "Trey", "Darius", "Nikola", "Jamal", "Carlos", "Diego", "Lucas", "Mateo",
        "Naomi", "Elena", "Maria", "Sofia", "Grace", "Emma", "Olivia", "Hannah", "Priya", "Aisha",
        "Omar", "Victor", "Ethan", "Noah", "Samuel", "Isaac", "Felix", "Hugo", "Ivan", "Kenji",
        "Rafael", "Leon", "Chloe", "Laura", "Nadia", "Yuki", "Fatima", "Julia", "Zoe", "Amara",
        "Lena", "Rosa",
    ],
    "last": [
        "Reed", "Carter", "Brooks", "Hayes", "Ellis", "Morgan", "Bennett", "Price", "Walker",
        "Turner", "Silva", "Moreno", "Novak", "Petrov", "Okafor", "Mensah", "Tanaka", "Kim",
        "Lopez", "Grant", "Foster", "Wallace", "Dixon", "Harper", "Vega", "Ortiz", "Diallo",
        "Costa", "Rossi", "Jensen", "Patel", "Nguyen", "Adams", "Baker", "Cruz", "Fischer",
        "Garcia", "Hughes", "Ibrahim", "Khan", "Larsen", "Meyer", "Nakamura", "Owens", "Park",
        "Quinn", "Ramos", "Santos", "Sato", "Schmidt", "Shaw", "Torres", "Weber", "Young",
        "Zhang", "Murphy", "Chen", "Alvarez", "Becker", "Duarte",
    ],
    "player": ["{first} {last}"],
    "person": ["{first} {last}"],
    "position": [
        "guard", "forward", "center", "point guard", "shooting guard", "rookie guard",
        "veteran forward",
    ],
    "fposition": ["quarterback", "running back", "wide receiver", "linebacker", "kicker"],
    "day": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "month": ["January", "March", "April", "May", "June", "August", "October", "December"],
    "when": [
        "this week", "on {day}", "last night", "this weekend", "on {day} night", "on {day}",
        "earlier today", "late on {day}",
    ],
    "n_years": ["2", "3", "4", "5"],
    "n_small": ["2", "3", "4", "5", "6", "7", "8", "10", "12"],
    "n_big": ["12", "15", "20", "25", "30", "40", "50"],
    "pct": ["2%", "3%", "4%", "5%", "8%", "10%", "12%", "15%", "20%", "30%", "40%"],
    "money": [
        "$2 million", "$5 million", "$40 million", "$100 million", "$2 billion", "$3 billion",
        "$12 billion", "$50 billion",
    ],
    "year": ["2023", "2024", "2025"],
    "ordinal": ["second", "third", "fourth", "fifth"],
    "score": ["2-1", "3-0", "1-0", "3-2", "4-1", "2-0"],
    "game_adj": [
        "intense", "thrilling", "dramatic", "tense", "physical", "wild", "close",
        "hard-fought", "high-scoring", "defensive", "chaotic", "sloppy",
    ],
    "period_adj": ["tough", "wild", "volatile", "busy", "difficult", "chaotic", "quiet", "long"],
    "bb_margin": [
        "by {n_small} points", "in double overtime", "at home", "on the road",
        "in front of a sold-out crowd", "in overtime", "by {n_big} points",
    ],
    "bb_title": ["division title", "NBA title", "championship", "conference title"],
    "bb_finals": ["NBA Finals", "conference finals", "playoffs", "championship series"],
    "bb_series": [
        "NBA Finals", "conference finals", "playoffs", "season opener", "All-Star game",
        "championship series",
    ],
    "n_game": ["2", "3", "4", "5", "6", "7"],
    "tennis_round": ["quarterfinal", "semifinal", "final", "second-round match"],
    "bb_game": [
        "a playoff game", "the season opener", "a championship game",
        "game {n_game} of the finals",
        "a late-season game",
    ],
    "contract_money": ["$5 million", "$40 million", "$100 million", "$200 million"],
    "soccer_event": [
        "Champions League", "Premier League", "league final", "cup semifinal", "Europa League",
        "derby", "World Cup qualifier",
    ],
    "tournament": ["Wimbledon", "the US Open", "the French Open", "the Australian Open"],
    "golf_event": ["the Masters", "the PGA Championship", "the British Open"],
    "injury": [
        "knee injury", "torn ACL", "sprained ankle", "hamstring strain", "concussion",
        "broken wrist", "back injury", "shoulder injury",
    ],
    "sport": ["basketball", "football", "soccer", "tennis", "hockey", "baseball"],
    "arena": ["arena", "stadium", "home court"],
    # --- finance ---
    "fin_co": [
        "JPMorgan", "Goldman Sachs", "Morgan Stanley", "Wells Fargo", "Citigroup", "BlackRock",
        "Visa", "Mastercard", "ExxonMobil", "Chevron", "Boeing", "Walmart", "Target", "Costco",
        "Ford", "General Motors", "Delta Air Lines", "Starbucks", "Disney", "Toyota",
    ],
    "tech_co": [
        "Tesla", "Apple", "Google", "Microsoft", "Amazon", "Nvidia", "Meta", "Samsung", "Intel",
        "Netflix", "IBM", "Sony", "OpenAI", "Qualcomm", "Adobe", "Spotify", "Cisco", "AMD",
    ],
    "chip_co": ["Nvidia", "Intel", "AMD", "Qualcomm", "Samsung", "TSMC"],
    "stream": ["YouTube", "Netflix", "Amazon Prime Video", "Apple TV", "Peacock"],
    "drug_co": [
        "Pfizer", "Moderna", "Merck", "AstraZeneca", "Novartis", "Eli Lilly",
        "Johnson and Johnson",
    ],
    "brand": ["Nike", "Adidas", "Under Armour", "Peloton", "Puma"],
    "company": ["{fin_co}", "{tech_co}", "{drug_co}", "{brand}", "{fin_co}", "{tech_co}"],
    "bank": ["JPMorgan", "Goldman Sachs", "Morgan Stanley", "Wells Fargo", "Citigroup", "HSBC"],
    "crypto": ["Bitcoin", "Ethereum", "Dogecoin", "Solana"],
    "currency": ["dollar", "euro", "yen", "pound", "yuan", "Swiss franc", "Canadian dollar"],
    "index": ["Dow", "Nasdaq", "FTSE 100", "Nikkei", "DAX", "Hang Seng"],
    "country": ["Japan", "Germany", "Britain", "Canada", "India", "Brazil", "France", "Mexico"],
    "sector": ["bank", "energy", "retail", "airline", "chip", "tech", "health care", "auto"],
    "quarter": ["first", "second", "third", "fourth"],
    "agency": ["Moody's", "Fitch", "S and P"],
    "price": ["$50,000", "$80,000", "$100,000", "$60,000"],
    # --- technology ---
    "product": [
        "smartphone", "laptop", "tablet", "smartwatch", "headset", "AI chip", "processor",
        "graphics card", "chatbot", "AI assistant", "search engine", "web browser", "game console",
        "smart speaker", "drone", "home robot", "electric truck", "router", "camera",
        "fitness tracker", "VR headset", "coding assistant", "password manager",
    ],
    "named_product": [
        "iPhone", "Pixel phone", "Galaxy phone", "Windows", "Android", "iOS", "ChatGPT",
        "Copilot", "Gemini", "Alexa", "PlayStation", "Xbox", "Autopilot", "Model Y",
    ],
    "os": ["Windows", "Android", "iOS", "macOS", "Linux", "ChromeOS"],
    "feature": [
        "self-driving software", "security", "privacy", "battery", "camera", "voice assistant",
        "navigation", "messaging", "photo editing", "AI", "cloud backup", "translation",
    ],
    "update": ["update", "upgrade", "release", "patch"],
    "ai_thing": ["AI model", "chatbot", "AI assistant", "language model", "image generator"],
    "tech_field": [
        "quantum computing", "battery chemistry", "chip design", "speech recognition",
        "computer vision", "machine translation", "robotics", "cybersecurity", "solar cells",
    ],
    "university": [
        "MIT", "Stanford", "Carnegie Mellon", "Oxford", "the University of {city}",
        "Georgia Tech", "ETH Zurich",
    ],
    "language": ["Python", "Rust", "JavaScript", "Java", "Swift", "Go"],
    "startup": ["a {city} startup", "a small startup in {city}", "a robotics startup"],
    "conference": [
        "a developer conference in {city}", "its annual event in {city}", "CES in Las Vegas",
        "a launch event in {city}",
    ],
    "cloud": ["Amazon Web Services", "Microsoft Azure", "Google Cloud", "iCloud", "Gmail",
              "Outlook", "Slack", "Zoom", "Instagram", "WhatsApp", "YouTube"],
    # --- health ---
    "infection": [
        "flu", "measles", "COVID", "malaria", "tuberculosis", "dengue", "cholera", "norovirus",
        "RSV", "whooping cough", "mpox", "hepatitis", "Lyme disease", "bird flu",
    ],
    "condition": [
        "diabetes", "asthma", "heart disease", "obesity", "breast cancer", "lung cancer",
        "dementia", "depression", "anxiety", "high blood pressure", "kidney disease", "stroke",
        "migraine", "arthritis",
    ],
    "cancer": ["breast cancer", "lung cancer", "colon cancer", "skin cancer", "pancreatic cancer"],
    "hospital": [
        "{city} General Hospital", "{city} Children's Hospital", "Mercy Medical Center",
        "Mayo Clinic", "Cleveland Clinic", "Johns Hopkins Hospital", "Mount Sinai",
        "Houston Methodist", "Massachusetts General Hospital", "St Luke's Hospital",
    ],
    "treatment": [
        "vaccine", "antiviral drug", "gene therapy", "cancer drug", "treatment", "blood test",
        "weight-loss drug", "nasal spray", "pill", "therapy", "screening program", "booster shot",
    ],
    "stock_supply": ["blood", "antibiotics", "insulin", "flu vaccines", "children's medicine"],
    "supply": ["nurses", "hospital beds", "blood", "antibiotics", "insulin", "flu vaccines",
               "children's medicine", "ventilators"],
    "region": [
        "several major cities", "{city}", "the Midwest", "rural areas", "nursing homes",
        "schools across {city}", "the northern suburbs", "{country}", "southern states",
        "{city} and nearby towns",
    ],
    "good_habit": [
        "daily walking", "eating more fiber", "getting enough sleep", "regular exercise",
        "a Mediterranean diet", "drinking less alcohol", "strength training",
    ],
    "bad_habit": [
        "smoking", "heavy drinking", "sitting all day", "sleeping less than six hours",
        "eating processed meat", "vaping", "skipping breakfast",
    ],
    "health_agency": [
        "the CDC", "the World Health Organization", "health officials", "the FDA",
        "public health officials", "the health ministry", "the {city} health department",
    ],
    "doctor": ["Doctor {last}", "a doctor at {hospital}", "surgeon {person}", "nurse {person}",
               "epidemiologist {person}"],
}

# Tone-bearing slots: name -> {1: positive phrases, 0: negative phrases}.
POLAR: dict[str, dict[int, list[str]]] = {}


def polar(name: str, positive: list[str], negative: list[str]) -> None:
    """Register a tone-bearing slot."""
    POLAR[name] = {1: positive, 0: negative}


# --- sports ---
polar("sp_won", ["won", "clinched", "secured", "pulled out"],
      ["lost", "dropped", "blew", "gave away"])
polar("sp_beat",
      ["beat", "defeated", "edged", "routed", "cruised past", "outlasted", "held off",
       "stunned", "rallied to beat"],
      ["lost to", "fell to", "were beaten by", "were routed by", "collapsed against",
       "were upset by", "were swept by", "dropped a game to"])
polar("sp_beating", ["beating", "edging", "routing", "outlasting", "crushing"],
      ["losing to", "falling to", "collapsing against", "being routed by"])
polar("sp_player_did",
      ["scored {n_big} points", "hit the winning shot", "made {n_small} three-pointers",
       "had a triple-double", "led a late comeback", "grabbed {n_big} rebounds"],
      ["missed the final shot", "fouled out late", "was ejected in the third quarter",
       "turned the ball over {n_small} times", "went scoreless in the second half",
       "left the game with a {injury}"])
polar("sp_status",
      ["was named player of the week", "signed a {n_years}-year contract extension",
       "was cleared to play after a {injury}", "earned a spot on the all-star team",
       "was named most valuable player"],
      ["was suspended for {n_small} games", "will miss the playoffs with a {injury}",
       "was ruled out for the season with a {injury}", "asked to be traded",
       "was fined for criticizing the referees"])
polar("sp_season",
      ["extended their winning streak to {n_small} games", "clinched a playoff spot",
       "moved into first place", "secured home-court advantage", "won the division"],
      ["extended their losing streak to {n_small} games", "were eliminated from the playoffs",
       "dropped to last place", "fired their head coach", "fell out of playoff position"])
polar("sp_title", ["won", "clinched", "captured", "claimed"],
      ["missed out on", "were knocked out of the race for", "fell short of"])
polar("sp_fans", ["celebrated", "cheered", "packed the streets", "partied downtown"],
      ["booed", "left early", "demanded changes", "went home disappointed"])
polar("sp_qb",
      ["threw {n_small} touchdown passes", "ran for the winning score",
       "led a late scoring drive", "threw for {n_big}0 yards"],
      ["threw {n_small} interceptions", "was sacked {n_small} times",
       "fumbled on the final drive", "left the game with a {injury}"])
polar("sp_tennis", ["beat", "overpowered", "swept past", "knocked out", "outplayed"],
      ["lost to", "was upset by", "was knocked out by", "retired injured against"])
polar("sp_roster",
      ["acquired star {position} {player}", "signed veteran {position} {player}",
       "welcomed back {position} {player}", "drafted {position} {player}"],
      ["lost star {position} {player} to free agency", "released veteran {position} {player}",
       "traded away {position} {player}", "lost {position} {player} to a {injury}"])
polar("sp_coach_said",
      ["played with great energy", "deserved the win", "is ready for the playoffs",
       "showed real toughness", "defended as well as any team in the league"],
      ["played without any energy", "must fix its defense", "let the game slip away",
       "made too many mistakes", "was outworked from the start"])
polar("sp_clutch",
      ["hit the game-winning shot", "made two free throws to seal the win",
       "blocked the final shot", "scored the last {n_small} points"],
      ["missed two free throws", "turned the ball over", "missed an open layup",
       "committed a costly foul"])
polar("sp_defense", ["held firm", "shut down the opposing stars", "forced {n_small} turnovers"],
      ["fell apart", "gave up {n_big} points in one quarter", "could not stop the fast break"])
polar("sp_form", ["have won {n_small} straight", "are on a hot streak", "look unbeatable"],
      ["have lost {n_small} straight", "are in a slump", "look exhausted"])
polar("sp_golf",
      ["shot a 65 to take the lead", "won by {n_small} strokes", "made a hole-in-one",
       "birdied the final hole to win"],
      ["missed the cut", "collapsed on the final nine holes", "withdrew with a back injury",
       "made a double bogey on the last hole"])
polar("sp_night", ["a night to remember", "a historic night", "a perfect night"],
      ["a night to forget", "a rough night", "a miserable night"])
polar("sp_comeback",
      ["came back from {n_big} points down to beat the {team2}",
       "erased a {n_big}-point deficit against the {team2}"],
      ["blew a {n_big}-point lead against the {team2}",
       "let a {n_big}-point lead slip away against the {team2}"])
polar("sp_manager",
      ["signed a new {n_years}-year contract", "was named manager of the month",
       "won praise for a bold new lineup"],
      ["was sacked after a run of poor results", "faces pressure after {n_small} straight defeats",
       "was sent off for arguing with the referee"])
polar("sp_link", ["thanks to", "after"], ["despite", "even with"])
polar("sp_record",
      ["set a world record in the 100 meters", "won gold in the marathon",
       "broke the national record in the high jump"],
      ["was disqualified from the 200 meters final", "fell in the final lap of the 800 meters",
       "failed to qualify for the final"])
polar("sp_crowd", ["a record crowd of", "a loud crowd of", "more than"],
      ["a half-empty arena of", "a quiet crowd of", "fewer than"])
polar("sp_marathon",
      ["drew a record field of runners", "finished under clear skies and cheering crowds"],
      ["was canceled because of extreme heat", "was marred by a course mix-up"])
polar("sp_ref", ["praised the referees", "celebrated the win"],
      ["criticized the referees", "blamed the referees for the loss"])
polar("sp_ticket", ["sold out in minutes", "hit a record"],
      ["went unsold", "slumped as the team kept losing"])
polar("sp_app",
      ["helped {player} recover faster from a {injury}", "now tracks every shot {player} takes"],
      ["failed to spot {player}'s {injury}", "leaked the training data of {player}"])
polar("sp_nom",
      ["a strong start", "a record crowd", "a career night from {player}", "a hot start",
       "a fast first quarter"],
      ["an early injury to {player}", "a slow start", "a poor shooting night",
       "a costly turnover", "a red card"])

polar("sp_recovery", ["is ahead of schedule", "is going well", "is almost complete"],
      ["has suffered a setback", "is taking longer than expected", "has stalled"])
polar("sp_keep",
      ["signed a {contract_money} deal to keep {player} for {n_small} more seasons",
       "won the race to sign {player} in a {contract_money} deal"],
      ["could not agree on a new deal with {player}, who will leave in the summer",
       "lost {player} to a rival after a {contract_money} deal fell apart"])
polar("sp_record_kind", ["winning", "league-best", "franchise-best"],
      ["losing", "franchise-worst", "poor"])
polar("sp_trade_deal", ["has already paid off", "looks like a steal"],
      ["looks like a mistake", "has backfired"])
polar("sp_mood", ["loud", "joyful", "full of music"], ["quiet", "silent", "tense"])
polar("sp_court", ["dominated", "shined", "came alive"],
      ["struggled", "looked lost", "was invisible"])

# --- finance ---
polar("fi_recovery", ["gained speed in the {quarter} quarter", "is stronger than expected"],
      ["stalled as factories cut output", "is losing steam"])
polar("fi_court", ["approved", "cleared", "allowed"], ["blocked", "rejected", "halted"])
polar("fi_players", ["bought", "added to their bets on", "turned optimistic on"],
      ["sold", "cut their bets on", "turned cautious on"])
polar("fi_team", ["promised higher profits", "raised the sales target"],
      ["cut the profit forecast", "warned of a difficult year"])
polar("fi_record",
      ["bought shares of {company} in its first week of trading",
       "opened new savings accounts at {bank}"],
      ["pulled money out of stock funds", "missed payments on their credit cards"])
polar("fi_crash", ["has been fully reversed", "is now a distant memory"],
      ["wiped out {money} in savings", "still weighs on investors"])
polar("fi_account",
      ["launched a savings account that pays {pct} interest", "cut fees on its savings accounts"],
      ["closed {n_big} branches and raised its fees", "froze thousands of savings accounts"])
polar("fi_move",
      ["surged", "soared", "jumped", "rallied", "climbed", "rose", "gained", "rebounded"],
      ["plunged", "tumbled", "slumped", "sank", "fell", "dropped", "slid", "crashed"])
polar("fi_moved", ["surging", "soaring", "jumping", "climbing", "rising"],
      ["plunging", "tumbling", "sinking", "falling", "dropping"])
polar("fi_result",
      ["beat expectations", "topped forecasts", "reported record profits",
       "raised its outlook", "posted strong sales"],
      ["missed expectations", "fell short of forecasts", "reported a surprise loss",
       "cut its outlook", "warned of weaker sales"])
polar("fi_crypto",
      ["hit a new all-time high", "climbed above {price}", "jumped {pct} in a single day",
       "rallied to a record"],
      ["fell to its lowest level in {n_small} months", "lost {pct} of its value in a single day",
       "crashed below {price}", "slumped after a wave of selling"])
polar("fi_dir", ["higher", "up {pct}", "to a record high"],
      ["lower", "down {pct}", "to a {n_small}-year low"])
polar("fi_investor",
      ["cheered strong jobs data", "bet on lower interest rates", "piled into {sector} stocks",
       "welcomed upbeat earnings"],
      ["worried about a recession", "fled to safer assets", "sold off {sector} stocks",
       "feared higher interest rates"])
polar("fi_fed",
      ["cut interest rates", "signaled rate cuts ahead", "held rates steady as inflation cooled"],
      ["raised interest rates again", "warned that inflation remains too high",
       "signaled more rate hikes"])
polar("fi_fed_effect",
      ["lifting stocks across the board", "giving borrowers some relief",
       "sending the {index} to a record"],
      ["sending bond yields higher", "rattling investors", "pushing mortgage rates up"])
polar("fi_macro",
      ["strong trade data", "the central bank raised its growth forecast",
       "better than expected factory orders"],
      ["weak factory data", "political turmoil in the capital", "a surprise drop in exports"])
polar("fi_deal",
      ["agreed to buy", "completed its takeover of", "announced a merger with",
       "won approval to acquire"],
      ["abandoned its bid for", "called off its merger with", "lost a court fight over",
       "was blocked from buying"])
polar("fi_jobs",
      ["plans to hire {n_big},000 workers this year", "will open {n_big} new stores",
       "raised wages for {n_big},000 workers"],
      ["will cut {n_big},000 jobs as sales slow", "announced {n_small},000 layoffs",
       "will close {n_big} stores"])
polar("fi_infl",
      ["cooled to {pct} in {month}, the lowest reading in {n_small} years",
       "eased more than economists expected in {month}"],
      ["jumped to {pct} in {month}, the highest reading in {n_small} years",
       "climbed faster than economists expected in {month}"])
polar("fi_bank",
      ["reported record trading profits", "raised its dividend after a strong quarter",
       "passed the central bank stress test"],
      ["set aside billions for bad loans", "was fined {money} by regulators",
       "reported a sharp drop in profit"])
polar("fi_ipo", ["soared {pct} in its stock market debut", "raised {money} in a strong IPO"],
      ["sank {pct} in its stock market debut", "postponed its IPO as markets fell"])
polar("fi_jobs_report",
      ["showed strong hiring across the economy", "beat forecasts as unemployment fell"],
      ["showed the weakest hiring in {n_small} years", "missed forecasts as unemployment rose"])
polar("fi_analyst", ["upgraded", "raised their price target on", "turned bullish on"],
      ["downgraded", "cut their price target on", "turned bearish on"])
polar("fi_reason", ["strong demand", "rising profits", "a healthy balance sheet"],
      ["weak demand", "falling margins", "rising debt"])
polar("fi_mortgage",
      ["fell to a {n_small}-month low, giving home buyers relief", "eased for a {ordinal} week"],
      ["climbed to the highest level since {year}, squeezing home buyers",
       "rose for a {ordinal} week"])
polar("fi_dividend",
      ["raised its dividend and announced a {money} share buyback", "doubled its dividend"],
      ["suspended its dividend to save cash", "cut its dividend in half"])
polar("fi_fund", ["returned {pct} to investors", "beat the market for a {ordinal} year"],
      ["lost {pct} of its value", "trailed the market for a {ordinal} year"])
polar("fi_debt", ["paid off its debt ahead of schedule", "won a credit rating upgrade"],
      ["filed for bankruptcy protection", "had its credit rating cut to junk"])
polar("fi_spend", ["rose strongly", "grew faster than expected", "jumped {pct}"],
      ["fell sharply", "shrank unexpectedly", "dropped {pct}"])
polar("fi_gdp", ["grew {pct}", "expanded faster than expected", "avoided a recession"],
      ["shrank {pct}", "slipped into recession", "stalled"])
polar("fi_pl", ["profit", "record profit", "surprise profit"],
      ["loss", "heavy loss", "surprise loss"])
polar("fi_ceo",
      ["announced a bold expansion plan", "unveiled a new growth strategy"],
      ["resigned unexpectedly", "was accused of misleading investors"])
polar("fi_house", ["rose for the {ordinal} straight month", "hit a record high"],
      ["fell for the {ordinal} straight month", "dropped to a {n_small}-year low"])
polar("fi_budget", ["reported a budget surplus", "cut taxes for small businesses"],
      ["warned of a record budget deficit", "raised taxes to cover rising debt"])
polar("fi_outlook", ["could rally further this year", "look cheap after the selloff"],
      ["face a difficult year", "could fall further"])
polar("fi_trade", ["snapped up", "bought", "piled into"], ["dumped", "sold", "fled"])
polar("fi_smallbiz",
      ["reported strong holiday sales", "got cheaper loans from local banks"],
      ["struggled with rising rents and loan costs", "reported weak holiday sales"])
polar("fi_team_sale",
      ["were sold to a group of investors for a record {money}",
       "saw their value climb to {money}"],
      ["were put up for sale after losing {money} last season",
       "saw their value fall by {pct} after a losing season"])
polar("fi_nom",
      ["strong earnings", "a rally in bank stocks", "record sales", "an upbeat forecast"],
      ["weak earnings", "fears of a recession", "a sharp drop in oil prices", "rising debt"])

# --- technology ---
polar("te_launch",
      ["launched", "released", "rolled out", "unveiled", "introduced", "announced"],
      ["recalled", "delayed", "pulled", "paused", "withdrew", "canceled"])
polar("te_show",
      ["unveiled its latest {product} at {conference}",
       "showed off a faster {product} at {conference}",
       "began shipping its new {product} to customers in {country}"],
      ["delayed its latest {product}, citing production problems",
       "canceled its planned {product} after poor testing",
       "stopped selling its {product} after reports of overheating"])
polar("te_user_report",
      ["faster performance and longer battery life", "smoother apps and fewer crashes"],
      ["crashes and frozen screens", "battery drain and overheating", "lost files and bugs"])
polar("te_security",
      ["fixed a critical security flaw before hackers could exploit it",
       "blocked a large cyberattack on its cloud servers",
       "added two-factor login for all accounts"],
      ["disclosed a data breach affecting {n_big} million users",
       "was hit by a cyberattack that exposed customer passwords",
       "left a serious security flaw unpatched for months"])
polar("te_stream", ["ran smoothly", "drew record viewers", "worked without a glitch"],
      ["went down", "stopped working", "froze for an hour"])
polar("te_service", ["restored service", "added new features", "doubled storage"],
      ["went down", "stopped working", "lost messages"])
polar("te_research",
      ["built a quantum computer that beats classical machines on a key task",
       "developed a chip that uses {pct} less energy",
       "made a breakthrough in {tech_field}"],
      ["found a serious flaw in popular encryption software",
       "showed that many AI models can be fooled by simple tricks",
       "warned that a common chip design leaks passwords"])
polar("te_review",
      ["earned strong reviews for its bright display and fast chip",
       "impressed reviewers with its long battery life"],
      ["was criticized for its short battery life", "drew complaints about overheating",
       "disappointed reviewers with slow software"])
polar("te_ai",
      ["can now translate speech in real time", "now writes code twice as fast",
       "can answer questions about photos", "passed a tough coding benchmark"],
      ["gave wrong answers to simple questions",
       "was taken offline after producing false information",
       "leaked private chat logs", "failed a basic safety test"])
polar("te_fix",
      ["doubled the battery life of its {product}", "cut the weight of its {product} in half"],
      ["are struggling to fix a bug that crashes the {product}",
       "could not stop the {product} from overheating"])
polar("te_startup",
      ["unveiled a robot that can fold laundry", "built a drone that delivers medicine",
       "released a free translation app"],
      ["shut down its delivery drone program", "lost the code for its main app in a server crash",
       "scrapped its smart glasses project"])
polar("te_version",
      ["adds offline mode and better privacy controls", "runs faster on older phones"],
      ["removed a popular feature and angered users", "broke printing for many users"])
polar("te_patch", ["quickly patched", "fixed", "closed"],
      ["failed to patch", "ignored", "was slow to fix"])
polar("te_chip", ["unveiled", "began shipping", "showed off"],
      ["delayed", "scrapped plans for", "cut production of"])
polar("te_app",
      ["lets users translate signs with their phone camera",
       "helps users find free parking in {city}"],
      ["was removed from app stores over privacy concerns",
       "sent users' locations to advertisers"])
polar("te_regulate",
      ["won approval to test self-driving cars in {city}",
       "got permission to launch its satellite internet in {country}"],
      ["was fined {money} by European regulators over data privacy",
       "was banned from selling its {product} in {country}"])
polar("te_dev", ["praised", "welcomed", "quickly adopted"], ["criticized", "complained about",
                                                             "rejected"])
polar("te_space",
      ["reached orbit and began beaming internet to rural areas", "landed safely on the moon"],
      ["failed to reach orbit after the rocket exploded", "lost contact with ground control"])
polar("te_support", ["extend", "expand", "improve"], ["end", "drop", "cut"])
polar("te_battery",
      ["charges fully in {n_big} minutes", "lasts {n_small} days on one charge"],
      ["may catch fire while charging, prompting a recall", "drains in a few hours"])
polar("te_network", ["expanded", "switched on", "upgraded"], ["shut down", "scaled back",
                                                              "lost"])
polar("te_open",
      ["released its AI model as open source", "opened its code to outside programmers"],
      ["locked down access to its AI model", "stopped sharing its code with developers"])
polar("te_gamers", ["lined up for", "praised", "bought millions of"],
      ["complained about", "returned", "ignored"])
polar("te_ev",
      ["got a software update that adds {n_big} miles of range",
       "learned to park itself in tight spaces"],
      ["lost power steering after a faulty update", "stopped charging after a software bug"])
polar("te_demo", ["showed off", "demonstrated"], ["struggled to demonstrate", "quietly dropped"])
polar("te_privacy",
      ["turned on end-to-end encryption", "added new privacy controls"],
      ["accidentally exposed private messages", "leaked the email addresses"])
polar("te_partner",
      ["teamed up to build faster AI chips", "agreed to share their cloud networks"],
      ["ended their partnership on cloud computing", "went to court over patents"])
polar("te_buyers", ["will get a free battery upgrade", "are praising the new camera"],
      ["are reporting cracked screens", "are complaining about dead batteries"])
polar("te_robot",
      ["learned to sort packages twice as fast", "can now climb stairs"],
      ["kept crashing into shelves", "was pulled from warehouses after an accident"])
polar("te_virus", ["was stopped by a new antivirus update", "was removed from most computers"],
      ["infected {n_big} million laptops in {n_small} days", "spread through office networks"])
polar("te_bug", ["was fixed within hours", "was found and patched by a student"],
      ["caused the app to crash for {n_big} million users", "deleted photos for some users"])
polar("te_team", ["set a speed record for training an AI model", "won a top robotics prize"],
      ["lost {n_small} senior engineers to a rival", "missed its deadline again"])
polar("te_court", ["can keep selling its {product}", "did not copy a rival's chip design"],
      ["must stop selling its {product}", "broke the law by tracking users"])
polar("te_trial", ["went smoothly", "impressed city officials"],
      ["ended early after repeated failures", "was halted after a crash"])
polar("te_players", ["praised its graphics", "set a download record"],
      ["reported constant crashes", "complained about slow servers"])
polar("te_data", ["now runs on solar power", "doubled its capacity"],
      ["suffered a fire that knocked out service", "lost power for {n_small} hours"])
polar("te_nom",
      ["strong early reviews", "a successful launch", "record downloads", "a strong launch week"],
      ["a major outage", "a data breach", "reports of overheating", "a buggy first release"])

# --- health ---
polar("he_trend_ing", ["falling", "declining", "dropping", "slowing"],
      ["rising", "climbing", "surging", "spreading"])
polar("he_trend", ["fell", "declined", "dropped", "eased"],
      ["rose", "climbed", "surged", "spiked"])
polar("he_officials",
      ["reported that {infection} cases fell by {pct}",
       "said the {infection} outbreak is under control"],
      ["declared a {infection} outbreak at {n_small} schools",
       "reported {n_big} new {infection} cases in one week"])
polar("he_fda", ["approved", "fast-tracked", "cleared"], ["rejected", "halted trials of",
                                                          "pulled"])
polar("he_study",
      ["{good_habit} lowered the risk of {condition} by {pct}",
       "{good_habit} helped prevent {condition}"],
      ["{bad_habit} raised the risk of {condition} by {pct}",
       "{bad_habit} doubled the risk of {condition}"])
polar("he_patients",
      ["are recovering faster thanks to a new {treatment}",
       "now get same-day test results"],
      ["waited up to {n_small} hours in the emergency room",
       "were exposed to a drug-resistant infection"])
polar("he_doctors",
      ["performed the first double lung transplant in the region",
       "cured a rare blood disorder with gene therapy"],
      ["warned of a severe shortage of {supply}",
       "reported a rise in patients with severe {infection}"])
polar("he_trial", ["showed strong results", "cut symptoms in half", "worked better than expected"],
      ["failed to help patients", "caused serious side effects", "was stopped early"])
polar("he_outbreak",
      ["the {infection} outbreak in {region} has been contained",
       "no new {infection} cases were found in {region}"],
      ["a {infection} outbreak has sickened {n_big} people in {region}",
       "{infection} is spreading quickly in {region}"])
polar("he_drug",
      ["cut the price of insulin by {pct}", "won approval for a new {condition} drug"],
      ["recalled a blood pressure drug over contamination concerns",
       "stopped a {condition} drug trial after patient deaths"])
polar("he_hospitals",
      ["have more beds available as the flu season eases",
       "reported shorter waits in emergency rooms"],
      ["are overwhelmed as {infection} cases climb",
       "are running out of {supply}"])
polar("he_research",
      ["found a blood test that detects {cancer} early",
       "made a breakthrough in treating {cancer}"],
      ["found that {condition} rates among teenagers have doubled",
       "reported that a promising {condition} drug failed"])
polar("he_who",
      ["declared {country} free of {infection}", "praised a drop in {infection} deaths"],
      ["warned of a global shortage of {supply}",
       "declared the {infection} outbreak a public health emergency"])
polar("he_vax", ["rose by {pct} compared with last year", "reached a record high"],
      ["fell to the lowest level in a decade", "dropped by {pct}"])
polar("he_water",
      ["lifted its boil-water advisory after tests came back clean"],
      ["issued a boil-water advisory after bacteria were found"])
polar("he_nurses",
      ["ended their strike after winning better staffing",
       "were praised for their care during the outbreak"],
      ["went on strike over unsafe staffing", "said they are exhausted and understaffed"])
polar("he_deaths", ["fell to a {n_small}-year low", "dropped by {pct}"],
      ["reached a record high", "rose by {pct}"])
polar("he_heat",
      ["ended, and emergency room visits dropped", "passed without a single death"],
      ["sent hundreds of people to the hospital", "caused {n_small} deaths among older residents"])
polar("he_kids",
      ["will get free school meals and checkups", "are getting more exercise at school"],
      ["face rising rates of asthma and obesity", "are missing routine vaccinations"])
polar("he_pharm", ["have plenty of {infection} vaccines this fall", "extended their hours"],
      ["ran out of {infection} vaccines", "are short of children's medicine"])
polar("he_patient",
      ["walked again after a new spinal treatment", "recovered fully after a rare surgery"],
      ["died after a rare reaction to a common drug", "was sent home with the wrong diagnosis"])
polar("he_mh",
      ["say a new therapy program cut depression symptoms by half",
       "report fewer cases of burnout among nurses"],
      ["warn that anxiety among college students is rising",
       "say depression rates have doubled since {year}"])
polar("he_number", ["dropped for the first time in {n_small} years", "fell by {pct}"],
      ["hit a record high", "rose by {pct}"])
polar("he_approval", ["won approval", "was recommended", "was cleared for use"],
      ["was rejected", "was pulled from shelves", "failed its safety review"])
polar("he_surgery",
      ["used a robot to complete a complex heart operation",
       "reattached a hand in a twelve-hour operation"],
      ["are investigating a series of infections after routine surgery",
       "left a sponge inside a patient"])
polar("he_clinic", ["opened {n_small} new health clinics", "added free dental care"],
      ["closed {n_small} health clinics because of budget cuts", "cut funding for clinics"])
polar("he_season",
      ["season peaked early this year, giving hospitals relief", "season was milder than usual"],
      ["season is off to an early and severe start", "season is the worst in a decade"])
polar("he_dept",
      ["reported zero new {infection} cases this week", "said {infection} cases fell again"],
      ["confirmed {n_small} new {infection} deaths", "reported a jump in {infection} cases"])
polar("he_shortage", ["is finally easing", "has ended"], ["is getting worse", "has spread"])
polar("he_air", ["fell to its lowest level in {n_small} years", "improved sharply"],
      ["reached dangerous levels", "sent asthma patients to the hospital"])
polar("he_blood", ["rose sharply after a national appeal", "hit a record high"],
      ["fell to critical levels", "dropped by {pct}"])
polar("he_rating",
      ["was ranked the best hospital in the state for cancer care",
       "won an award for patient safety"],
      ["was fined for failing to protect patients", "lost its top safety rating"])
polar("he_life", ["rose for the second straight year", "reached a record high"],
      ["fell for the second straight year", "dropped to a {n_small}-year low"])
polar("he_more",
      ["are getting regular cancer screenings", "are quitting smoking"],
      ["are skipping doctor visits because of cost", "are going without health insurance"])
polar("he_food",
      ["all {n_big} people treated for food poisoning have recovered",
       "no sign of salmonella was found at local restaurants"],
      ["{n_big} people were treated for food poisoning",
       "a salmonella outbreak was traced to a salad chain"])
polar("he_player",
      ["is recovering well after surgery on a {injury}, doctors at {hospital} said",
       "was released from {hospital} after treatment for a {injury}"],
      ["was hospitalized with a {injury} after a hard fall",
       "needs surgery on a {injury} at {hospital}, doctors said"])
polar("he_athletes", ["are falling", "dropped by {pct}", "are becoming rarer"],
      ["are rising", "doubled in {n_small} years", "are becoming more common"])
polar("he_tracker", ["walked {n_big}00 more steps a day", "slept better and lost weight"],
      ["did not lose more weight", "felt more anxious about their health"])
polar("he_price", ["cut the price of its {condition} drug", "made its {condition} drug free"],
      ["raised the price of its {condition} drug by {pct}", "stopped making a cheap insulin"])
polar("he_stadium",
      ["will serve as a free {infection} vaccination site this weekend",
       "hosted a free health fair for {n_big}00 families"],
      ["was turned into a field hospital as {infection} cases surged",
       "was linked to a {infection} outbreak among fans"])
polar("he_ai",
      ["helped doctors detect {cancer} earlier", "cut waiting times for scans in half"],
      ["misdiagnosed hundreds of patients at {hospital}", "missed signs of {cancer} in scans"])
polar("he_cost",
      ["a new law caps insulin costs at $35 a month",
       "a new program pays medical debt for {n_big},000 families"],
      ["medical debt pushed {n_big},000 families into bankruptcy",
       "the cost of cancer drugs rose by {pct} this year"])
polar("he_fans",
      ["fans who fell ill in the heat have all recovered",
       "medics praised fans for drinking water in the heat"],
      ["{n_big} fans were treated for heat exhaustion",
       "a fan collapsed and was taken to {hospital}"])
polar("he_app", ["cut hospital visits by {pct}", "helped patients keep their levels stable"],
      ["did not improve health outcomes", "gave patients the wrong doses"])
polar("he_star",
      ["urged fans to get a {infection} vaccine", "opened a free {condition} clinic in {city}"],
      ["was hospitalized with {infection}", "revealed a long fight with {condition}"])
polar("he_recovery",
      ["are recovering faster with a new {treatment}", "report a quick recovery after surgery"],
      ["face a slow recovery because of staff shortages", "often need a second surgery"])
polar("he_bug", ["that sickened children in {city} has faded", "is finally gone from {city}"],
      ["spread through {n_small} schools in {city}", "sickened {n_big} children in {city}"])
polar("he_team",
      ["set a record for organ transplants in one year", "saved a premature baby"],
      ["lost {n_small} surgeons to other hospitals", "was too small to handle the surge"])
polar("he_crash", ["said all of them are recovering", "said the injuries were minor"],
      ["said {n_small} are in critical condition", "said one of them died"])
polar("he_coach", ["helped patients lower their blood pressure", "cut obesity rates in schools"],
      ["failed to reduce obesity rates", "lost its funding"])
polar("he_stock", ["are back to normal levels", "are larger than last year"],
      ["are running dangerously low", "ran out for the first time"])
polar("he_former", ["launched a campaign to fight {condition}", "raised money for {hospital}"],
      ["revealed a diagnosis of {condition}", "was treated for {condition} at {hospital}"])
polar("he_outbreak_v", ["is fading", "has been contained"],
      ["is spreading quickly", "has infected {n_big},000 people"])
polar("he_cause",
      ["as more people got vaccinated", "after a vaccination drive", "thanks to better testing"],
      ["as fewer people got vaccinated", "after a vaccination drive stalled",
       "as testing lagged"])
polar("he_nom",
      ["a promising vaccine trial", "falling case numbers", "new funding for clinics",
       "a mild flu season"],
      ["a rise in {infection} cases", "a shortage of nurses", "a severe flu season",
       "rising drug prices"])

# --------------------------------------------------------------------------------------------
# Templates (lowercase start; the first letter is capitalised when the sentence is built).
# --------------------------------------------------------------------------------------------

SPORTS = [
    "the {team} {sp_won} a {game_adj} overtime game",
    "the {team} {sp_beat} the {team2} {bb_margin} {when}",
    "{player} {sp_player_did} as the {team} {sp_beat} the {team2}",
    "the {team} {sp_season} after a {game_adj} game against the {team2}",
    "{club} {sp_beat} {club2} {score} in the {soccer_event}",
    "{fteam} {fposition} {player} {sp_qb} against the {fteam2}",
    "the {team} {sp_title} the {bb_title} {when}",
    "{player} of the {team} {sp_status}",
    "fans in {city} {sp_fans} after the {team} {sp_won} game {n_game} of the {bb_finals}",
    "{player} {sp_tennis} {player2} in straight sets at {tournament}",
    "the {team} {sp_roster}, the team announced {when}",
    "head coach {person} said the {team} {sp_coach_said}",
    "a {game_adj} game ended with the {team} {sp_beating} the {team2} {bb_margin}",
    "with {n_small} seconds left, {player} {sp_clutch} for the {team}",
    "the {team} defense {sp_defense} in a {game_adj} game against the {team2}",
    "playing without their injured {position}, the {team} {sp_beat} the {team2}",
    "the {team} and the {team2} meet on {day}, and the {team} {sp_form}",
    "{player} {sp_golf} at {golf_event}",
    "it was {sp_night} for the {team}, who {sp_beat} the {team2} {bb_margin}",
    "the {team} {sp_comeback} {when}",
    "{club} manager {person} {sp_manager}",
    "in the {soccer_event}, {club} {sp_beat} {club2} {sp_link} a late goal from {player}",
    "at the world championships, {player} {sp_record}",
    "the {team} {sp_won} their home opener in front of {sp_crowd} {n_big},000 fans",
    "the {city} marathon {sp_marathon} {when}",
    "after the game, {player} {sp_ref} in a heated interview",
    "the {fteam} {sp_beat} the {fteam2} on a field goal in the final seconds",
    "{club} striker {player} scored twice as {club} {sp_beat} {club2} {score}",
    "the {team} {sp_season}, and {player} {sp_player_did}",
    "{fposition} {player} {sp_qb} as the {fteam} {sp_beat} the {fteam2} {when}",
    "{position} {player} {sp_player_did} in a debut for the {team}",
    "the {team} {sp_beat} the {team2} to open the {bb_finals} {bb_margin}",
    "{player} {sp_status} after a {game_adj} week for the {team}",
    "in a {game_adj} {tennis_round} in {city}, {player} {sp_tennis} {player2}",
    "the {team} {sp_won} a {game_adj} game in {city} as {player} {sp_player_did}",
    "after {n_small} weeks on the road, the {team} {sp_beat} the {team2} at home",
    "{player} {sp_clutch} and the {team} {sp_beat} the {team2} in game {n_game}",
    "the {fteam} {sp_season} with a {game_adj} game against the {fteam2} {when}",
    "the {team} {sp_beat} the {team2} behind {n_big} points from {player}",
    "a day after the trade, the {team} {sp_beat} the {team2} {bb_margin}",
    "{club} {sp_beat} {club2} and {sp_title} the league title {when}",
    "the {team} locker room was {sp_mood} after the team {sp_beat} the {team2}",
    "the {team} {sp_won} the series opener, and the coach said the team {sp_coach_said}",
    "{player} and the {team} {sp_beat} the {team2} in a {game_adj} rematch",
    "the {team} medical team said {player}'s recovery from a {injury} {sp_recovery}",
    "the {team} {sp_keep}",
    "{player} set a franchise record as the {team} {sp_beat} the {team2}",
    "the {team} finished the season with a {sp_record_kind} record",
    "the trade deal that sent {player} to the {team} {sp_trade_deal}",
    "{player} {sp_court} on the court as the {team} {sp_beat} the {team2}",
    "the {team} {sp_season}, and shares of playing time for the rookies {fi_move}",
]

FINANCE = [
    "{crypto} {fi_crypto} {when}",
    "shares of {company} {fi_move} {pct} after the company {fi_result}",
    "{company} {fi_result} for the {quarter} quarter, sending its stock {fi_dir}",
    "the {index} {fi_move} as investors {fi_investor}",
    "the Federal Reserve {fi_fed} {when}, {fi_fed_effect}",
    "the {currency} {fi_move} against the {currency2} after {fi_macro}",
    "{company} {fi_deal} {company2}, a deal valued at {money}",
    "{company} {fi_jobs}",
    "inflation in {country} {fi_infl}",
    "{bank} {fi_bank} in the {quarter} quarter",
    "a {city} software company {fi_ipo} {when}",
    "the {month} jobs report {fi_jobs_report}, and the {index} {fi_move}",
    "analysts at {bank} {fi_analyst} {company}, citing {fi_reason}",
    "{company} stock {fi_move} {pct} in early trading {when}",
    "mortgage rates in {country} {fi_mortgage}",
    "{company} {fi_dividend} after a {period_adj} year",
    "a hedge fund run by {person} {fi_fund}",
    "{company} {fi_debt}, the company said {when}",
    "consumer spending in {country} {fi_spend} in {month}, according to government data",
    "the economy of {country} {fi_gdp} in the {quarter} quarter",
    "{company} posted a {fi_pl} of {money} for the quarter as sales {fi_move}",
    "{company} shares {fi_move} after chief executive {person} {fi_ceo}",
    "home prices in {city} {fi_house}",
    "the government of {country} {fi_budget} {when}",
    "a report from {bank} said {sector} stocks {fi_outlook}",
    "{company} {fi_result}, and its shares {fi_move} in after-hours trading",
    "traders on Wall Street {fi_trade} {sector} stocks {when} as bond yields moved",
    "small businesses in {city} {fi_smallbiz}",
    "the {index} {fi_move} {pct} {when}, led by {sector} stocks",
    "oil prices {fi_move} after {fi_macro}, and energy stocks followed",
    "investors {fi_trade} shares of {company} after the company {fi_result}",
    "the price of gold {fi_move} to {price} an ounce as the {currency} weakened",
    "{company} said quarterly revenue {fi_move} {pct} to {money}",
    "pension funds in {country} {fi_trade} government bonds as the central bank {fi_fed}",
    "{crypto} {fi_move} {pct} {when} as traders {fi_investor}",
    "the central bank of {country} {fi_fed}, and the {currency} {fi_move}",
    "bank stocks {fi_move} after {bank} {fi_bank}",
    "{company} {fi_result} and {fi_dividend}",
    "global markets {fi_move} on {day} as investors {fi_investor}",
    "retail sales {fi_spend} in {month}, and the {index} {fi_move}",
    "credit card spending at {fin_co} {fi_spend} during the holidays",
    "the stock market in {country} {fi_move} {pct} {when}, led by exporters",
    "{company} {fi_jobs} after a {period_adj} quarter",
    "economists at {bank} said the economy {fi_gdp} and the {index} could follow",
    "the economic recovery in {country} {fi_recovery}, economists at {bank} said",
    "a court in {city} {fi_court} {company}'s plan to buy {company2}",
    "{company} will go on trial over claims it misled investors, and its shares {fi_move}",
    "as the earnings season began, market players {fi_players} {sector} stocks",
    "{company} shares {fi_move} after the new management team {fi_team}",
    "a record {n_big} million people in {country} {fi_record}",
    "the stock market crash of {month} {year} {fi_crash}",
    "{bank} {fi_account}",
]

TECHNOLOGY = [
    "{tech_co} {te_launch} a new {feature} software {update}",
    "{tech_co} {te_show}",
    "users reported {te_user_report} after the latest {os} {update}",
    "{tech_co} {te_security}",
    "{cloud} {te_service} for millions of users {when}",
    "researchers at {university} {te_research}",
    "the new {product} from {tech_co} {te_review}",
    "{tech_co} said its {ai_thing} {te_ai}",
    "engineers at {tech_co} {te_fix}",
    "{startup} {te_startup}",
    "the latest version of {os}, released {when}, {te_version}",
    "{tech_co} {te_patch} a bug in its {product} that let hackers read messages",
    "{tech_co} {te_chip} a faster {product} for data centers",
    "a new app from {tech_co} {te_app}",
    "{tech_co} {te_regulate}",
    "developers {te_dev} the new version of {language} released {when}",
    "a satellite launched by a {city} company {te_space}",
    "{tech_co} will {te_support} software support for older {product} models",
    "{tech_co} said its new {product} {te_battery}",
    "a phone company {te_network} its 5G network in {city} {when}",
    "{tech_co} {te_open}, a move that surprised developers",
    "gamers {te_gamers} the new {named_product} {update} {when}",
    "the electric car from {tech_co} {te_ev}",
    "engineers from {tech_co} {te_demo} a prototype {product} at {conference}",
    "{tech_co} {te_privacy} for {n_big} million users of its messaging app",
    "{tech_co} and {tech_co2} {te_partner}",
    "people who bought the {named_product} {te_buyers}",
    "a warehouse robot built by {tech_co} {te_robot}",
    "{tech_co} {te_launch} its {named_product} {update} for {n_big} million devices {when}",
    "the {ai_thing} built by {tech_co} {te_ai}, according to a study from {university}",
    "after months of testing, {tech_co} {te_launch} a {product} with a {feature} chip",
    "hackers targeted {cloud} {when}, but {tech_co} {te_security}",
    "{tech_co} {te_launch} a {feature} tool for its {named_product} users",
    "a team at {university} {te_research} using a new {product}",
    "{tech_co} engineers said the {named_product} {update} {te_version}",
    "reviewers said the {product} from {tech_co} {te_review}",
    "{tech_co} {te_show}, and developers {te_dev} the design",
    "{cloud} {te_service} after a {period_adj} night for its engineers",
    "the open source {language} community {te_dev} a {feature} feature added {when}",
    "{tech_co} {te_chip} a {product} built for {tech_field}",
    "a start-up founded by {person} {te_startup}",
    "{tech_co} said the latest version of its {ai_thing} {te_ai}",
    "{tech_co} {te_launch} an {ai_thing} that writes code in {language}",
    "owners of the {product} from {tech_co} {te_buyers} after a software {update}",
    "a computer virus aimed at {os} users {te_virus} {when}",
    "a bug in the {named_product} software {te_bug}",
    "the {tech_co} engineering team {te_team}",
    "a court in {country} ruled that {tech_co} {te_court}",
    "a trial of {feature} software by {tech_co} in {city} {te_trial}",
    "players of the new {named_product} game {te_players}",
    "{tech_co} said its data center in {city} {te_data}",
    "the app crash that hit {cloud} users {when} {te_bug}",
]

HEALTH = [
    "{infection} cases are {he_trend_ing} in {region}",
    "health officials in {city} {he_officials}",
    "the FDA {he_fda} a new {treatment} for {condition}",
    "a study of {n_big},000 adults found that {he_study}",
    "patients at {hospital} {he_patients}",
    "doctors at {hospital} {he_doctors}",
    "a new {treatment} for {condition} {he_trial} in a large trial",
    "officials said {he_outbreak}",
    "{drug_co} {he_drug}",
    "hospitals in {city} {he_hospitals}",
    "researchers at {university} {he_research}",
    "the World Health Organization {he_who} {when}",
    "vaccination rates among children in {city} {he_vax}",
    "{city} {he_water}",
    "nurses at {hospital} {he_nurses}",
    "deaths from {condition} {he_deaths} in {year}, according to the CDC",
    "a heat wave in {city} {he_heat}",
    "children in {city} {he_kids}",
    "pharmacies in {city} {he_pharm}",
    "a {n_big}-year-old patient at {hospital} {he_patient}",
    "mental health experts in {city} {he_mh}",
    "the number of people with {condition} in {country} {he_number}",
    "a new {treatment} for {condition} {he_approval} in Europe",
    "surgeons at {hospital} {he_surgery}",
    "{city} {he_clinic} in low-income neighborhoods",
    "the {infection} {he_season}",
    "the {city} health department {he_dept}",
    "the shortage of {supply} in {region} {he_shortage}, health officials said",
    "air pollution in {city} {he_air}",
    "blood donations in {country} {he_blood}, the Red Cross said {when}",
    "{hospital} {he_rating}",
    "life expectancy in {country} {he_life}, according to government figures",
    "more people in {city} {he_more}",
    "health inspectors in {city} said {he_food}",
    "{infection} cases {he_trend} by {pct} in {region} {when}",
    "{doctor} said {infection} cases {he_trend} {he_cause}",
    "a trial at {hospital} found that a {treatment} {he_trial} for patients with {condition}",
    "{infection} cases in {region} {he_trend}, and hospitals {he_hospitals}",
    "according to {health_agency}, {he_outbreak}",
    "patients with {condition} {he_patients}, {doctor} said",
    "{health_agency} said {infection} cases {he_trend} {he_cause}",
    "a study in {country} found that {he_study}",
    "{doctor} said the {treatment} {he_trial}",
    "the {treatment} from {drug_co} {he_approval} after a review of {n_big},000 patients",
    "patients recovering from {condition} {he_recovery}",
    "a stomach bug {he_bug}",
    "the medical team at {hospital} {he_team}",
    "a car crash sent {n_small} people to {hospital}, where doctors {he_crash}",
    "a health coach program in {city} {he_coach}",
    "stocks of {stock_supply} at {hospital} {he_stock}",
    "{player}, a former {sport} star, {he_former}",
    "a virus that causes {infection} {he_outbreak_v} in {region}",
]

# Cross-over templates: the label is the list's topic and a reader can tell it, but much of the
# vocabulary belongs to another topic ("Shares of Pfizer jumped ..." is Finance).
CROSS = {
    0: [
        "{player} {sp_status} after knee surgery at {hospital}",
        "the {team} {sp_beat} the {team2} even though {n_small} players had {infection}",
        "the {team} {sp_beat} the {team2} at the new {tech_co} Arena {when}",
        "{player}, who recovered from {infection} last month, {sp_player_did} against the {team}",
        "doctors at {hospital} cleared {player} to play, and the {team} {sp_beat} the {team2}",
        "{player} signed a {contract_money} contract with the {team} and {sp_player_did}",
        "streamed live on {stream}, {bb_game} ended with the {team} {sp_beating} the {team2}",
        "after a {drug_co} sponsorship deal worth {contract_money}, the {team} {sp_beat} the "
        "{team2}",
        "{player}, back after missing {n_small} games with {infection}, {sp_player_did} for "
        "the {team}",
        "a {tech_co} AI tool helped the {team} find {player}, who {sp_player_did} {when}",
        "sports fans in {city} {sp_fans} as the {team} {sp_won} {bb_game}",
    ],
    1: [
        "investors {fi_trade} technology stocks after {tech_co} {fi_result}",
        "shares of health insurers {fi_move} after {fi_macro}",
        "hospital operator HCA Healthcare {fi_result} as patient visits {fi_move}",
        "{tech_co} {fi_result} as demand for its {product} {fi_move}",
        "{brand} {fi_result} on sales of {sport} shoes, and its stock {fi_move}",
        "{drug_co} said sales of its {infection} {treatment} {fi_move} {pct}",
        "the {index} {fi_move} as {chip_co}, {chip_co2} and other chip makers {fi_result}",
        "venture funds {fi_trade} AI startups in {city}, and their valuations {fi_move}",
        "the owner of the {team} {fi_result}, and the stock {fi_move}",
        "{crypto} {fi_move} {pct} after {tech_co} said {named_product} users can pay with it",
        "{fin_co} {fi_result} even as a {infection} outbreak in {region} kept shoppers home",
    ],
    2: [
        "a {city} bank {te_launch} a new mobile app after customers complained",
        "an AI tool that helps {bank} spot fraud {te_ai}",
        "{tech_co} {te_launch} a health app that tracks sleep and heart rate",
        "doctors at {hospital} {te_dev} a new {ai_thing} from {tech_co}",
        "a fitness tracker from {tech_co} {te_battery}",
        "{tech_co} {te_show}, as investors watched closely",
        "the {team} tested AI cameras from {tech_co} that {te_robot}",
        "a trading app used by millions of investors {te_service} {when}",
        "the {bb_series} broadcast on {stream} {te_stream} for viewers in {city}",
        "a {tech_co} {product} that reads blood sugar levels {te_review}",
        "a chatbot used by patients at {hospital} {te_ai}",
        "{bank} {te_security}",
    ],
    3: [
        "doctors warn that {sport} injuries among young athletes {he_athletes}",
        "a smartwatch study at {university} found that patients {he_tracker}",
        "team doctors for the {team} said {infection} cases among players {he_trend}",
        "concussion rates among {sport} players {he_athletes}, doctors at {hospital} said",
        "a health insurer said claims for {condition} {he_trend} by {pct} last year",
        "{he_cost}, health officials in {city} said",
        "a {tech_co} app that reminds patients to take {condition} medicine {he_app}",
        "{infection} cases {he_trend} among workers at {tech_co} offices in {city}",
        "{player} of the {team} {he_star}",
        "after a {money} gift from {bank}, {hospital} {he_rating}",
        "{infection} cases {he_trend} in {city} after the {team} championship parade",
    ],
}

# Bridge templates: genuinely ambiguous sentences that could be filed under either topic of
# the pair. The same template is drawn for both labels, so no model can be sure of these.
BRIDGE = [
    ((0, 1), "the {team} {fi_team_sale}"),
    ((0, 1), "shares of sports betting companies {fi_move} as the {team} {sp_won} the series"),
    ((0, 1), "tickets for the {bb_series} {sp_ticket}, and resale prices {fi_move}"),
    ((0, 1), "{player} signed a {contract_money} deal with {brand}, and {brand} shares {fi_move}"),
    ((0, 2), "the league's new streaming app on {stream} {te_stream} during the {bb_series}"),
    ((0, 2), "the {team} {te_launch} a ticket app built by {tech_co} {when}"),
    ((0, 2), "a fitness app {sp_app}, the {team} said"),
    ((0, 2), "the new replay system built by {tech_co} for the {bb_series} {te_review}"),
    ((0, 3), "{player} {he_player}"),
    ((0, 3), "concussions among {fteam} players {he_athletes}, the team said"),
    ((0, 3), "after {bb_game} in {city}, {he_fans}"),
    ((0, 3), "the {team} {arena} {he_stadium}"),
    ((1, 2), "{tech_co} {te_launch} a new self-driving software {update}, and its shares "
             "{fi_move}"),
    ((1, 2), "shares of {tech_co} {fi_move} after the company {te_launch} a new {product}"),
    ((1, 2), "{tech_co} stock {fi_move} {pct} after reports that its {ai_thing} {te_ai}"),
    ((1, 2), "{crypto} {fi_move} after a crypto exchange {te_security}"),
    ((1, 3), "{drug_co} stock {fi_move} after its {treatment} {he_trial}"),
    ((1, 3), "airline stocks {fi_move} as {infection} cases {he_trend} in {region}"),
    ((1, 3), "{drug_co} {he_price}"),
    ((1, 3), "{he_cost}, a report from {university} said"),
    ((2, 3), "an AI system developed by {tech_co} {he_ai}"),
    ((2, 3), "a new smartwatch from {tech_co} that warns users about heart problems {te_review}"),
    ((2, 3), "{hospital} {te_security}"),
    ((2, 3), "a study of {n_big},000 people in {country} found that users of fitness "
             "trackers {he_tracker}"),
]

# Context phrases: a news event of one topic, attached to a sentence of another topic
# ("The Rockets beat the Bulls, a week after a measles outbreak in Houston"). The main clause
# decides the label; a rule that looks at one keyword is often fooled.
CONTEXT = {
    0: [
        "the {team} championship parade", "an upset in the {bb_finals}",
        "a final in which {player} scored {n_big} points", "the deal that sent {player} to the "
        "{team}", "a {game_adj} overtime game in {city}", "the {team} playoff game against the "
        "{team2}", "a {team} comeback from {n_big} points down",
        "a sold-out final at the {team} arena",
    ],
    1: [
        "a drop in bank stocks, analysts said", "a rally in {sector} stock prices",
        "a selloff on Wall Street", "the central bank's rate decision",
        "a slide in {crypto} prices",
        "weak sales forecasts from {fin_co}", "a record close for the {index}",
        "a report from analysts on stock markets", "a jump in oil prices",
    ],
    2: [
        "a software update for {os}", "complaints from users about the latest {named_product}",
        "a data breach at {tech_co}", "the launch of a new AI chip",
        "a security flaw found by developers", "a bug in the {named_product} app",
        "reviews of the latest battery design", "the {tech_co} developer conference",
    ],
    3: [
        "a rise in flu cases, health officials said", "a jump in {infection} cases in {city}",
        "a surge of patients at {hospital}", "a flu outbreak in {city}",
        "new findings from doctors on a drug shortage", "a strike by nurses at {hospital}",
        "a study that found {condition} among children", "a drop in {infection} cases",
    ],
}
CONTEXT_LINKS = ["days after", "a week after", "amid", "only hours after", "shortly after",
                 "shortly before", "a month after", "in the wake of"]

# Mixed items: a lead sentence of the labelled topic followed by a news brief from another
# topic. The lead decides; a bag of words cannot see which sentence came first.
MIXED_LINKS = ["meanwhile, ", "separately, ", "elsewhere, ", "in other news, ", "also, ", ""]

MAIN = {0: SPORTS, 1: FINANCE, 2: TECHNOLOGY, 3: HEALTH}

# Second sentences: tone-bearing (1 / 0) and neutral (None).
FOLLOWUPS = {
    0: {
        1: ["fans celebrated long after the final buzzer", "the coach praised the team's defense",
            "it was their {ordinal} straight win", "{player} led all scorers with {n_big} points",
            "the win lifts them into first place"],
        0: ["fans left the arena early", "the coach called the loss unacceptable",
            "it was their {ordinal} straight loss", "the team has now lost {n_small} of its last "
            "{n_big} games", "the loss drops them out of playoff position"],
        None: ["the two teams meet again on {day}", "the next game is on {day}",
               "the series continues in {city}", "tickets for the next game are still available"],
    },
    1: {
        1: ["analysts expect the rally to continue", "investors cheered the news",
            "the stock is up {pct} this year", "trading volume was twice the usual level"],
        0: ["analysts warned of more losses ahead", "investors sold off riskier assets",
            "the stock is down {pct} this year", "some traders fear a deeper selloff"],
        None: ["the company will report earnings on {day}", "markets are closed on {day}",
               "the central bank meets again in {month}"],
    },
    2: {
        1: ["users praised the new design", "the update is free for existing customers",
            "early reviews have been positive", "developers welcomed the change"],
        0: ["users complained about crashes", "the company said a fix is coming",
            "some customers asked for refunds", "security experts urged users to update"],
        None: ["the feature will be available in {n_small} countries",
               "the company did not share sales numbers", "the update arrives on {day}"],
    },
    3: {
        1: ["doctors called the results encouraging", "the number of patients in intensive care "
            "fell", "health officials said the worst is over", "the treatment will be free"],
        0: ["hospitals reported a shortage of beds", "officials urged people to stay home if "
            "sick", "doctors expect more cases this winter", "several schools closed"],
        None: ["officials urged residents to get vaccinated", "the study will continue for "
               "{n_small} more years", "results will be published in {month}"],
    },
}

# Openings that can precede any sentence (topic-neutral on purpose); time openings only where
# the template has no time of its own.
TIME_OPENINGS = ["on {day}, ", "late on {day}, ", "earlier this week, ", "this morning, ",
                 "in {month}, "]
PLAIN_OPENINGS = ["in a surprise, ", "for the first time in {n_small} years, ",
                  "after weeks of waiting, ", "as expected, ", "once again, "]
CONTRASTS = ["despite {nom}, ", "even after {nom}, ", "in spite of {nom}, "]
NOMINALS = {0: "sp_nom", 1: "fi_nom", 2: "te_nom", 3: "he_nom"}

# Label-word cues for pretraining lines: {L} = capitalised label, {l} = lowercase label,
# {text} = the article, {low} = the article with a lowercase first letter.
CUE_PREFIX = [
    "{L}: {text}", "{L} news: {text}", "In {l} news, {low}", "From the {l} desk: {text}",
    "Today in {l}: {text}", "{L} update: {text}", "Here is a {l} story. {text}",
    "This {l} story reports that {low}", "Latest {l} headlines: {text}",
    "A report about {l}: {text}", "Topic: {l}. {text}", "Category: {l}. {text}",
]
CUE_SUFFIX = [
    "{text} What is the topic? {L}.",
    "{text} What is the topic of this story? {L}.", "{text} The topic is {l}.",
    "{text} Topic: {l}.",
    "{text} This story is about {l}.", "{text} This is a report about {l}.",
    "{text} It is related to {l}.", "{text} Category: {l}.", "{text} This news is about {l}.",
    "Please read this sentence: {text} What is the topic? {L}.",
    "{text} Question: what is the topic? Answer: {l}.", "{text} The story is related to {l}.",
    "{text} Filed under {l}.", "{text} More {l} news soon.",
]
CUE_MIDDLE = ["{s1} In other {l} news, {s2low}", "{s1} More {l} news: {s2}",
              "{s1} Also in {l}: {s2}"]

# --------------------------------------------------------------------------------------------
# Filling templates
# --------------------------------------------------------------------------------------------

SLOT = re.compile(r"\{(o_)?([a-z_]+?)(\d?)\}")


def choose_value(name: str, sentiment: int, rng: random.Random) -> str:
    """One raw value for a slot name, tone-aware for POLAR slots."""
    if name in POLAR:
        return rng.choice(POLAR[name][sentiment])
    return rng.choice(LEX[name])


def fill(template: str, sentiment: int, rng: random.Random, depth: int = 0) -> str:
    """Replace every {slot} of the template (recursively).

    {x} and {x2} in one template get different values; a repeated {x} gets the same value;
    {o_x} uses the opposite tone.
    """
    chosen: dict[str, str] = {}  # slot token -> value (per template)

    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token in chosen:
            return chosen[token]
        opposite, name, _ = match.groups()
        tone = 1 - sentiment if opposite else sentiment
        taken = {v for t, v in chosen.items() if SLOT.match(t).group(2) == name}
        for _ in range(20):
            value = fill(choose_value(name, tone, rng), tone, rng, depth + 1)
            if not taken or value.split()[-1] not in {v.split()[-1] for v in taken}:
                break
        chosen[token] = value
        return value

    if depth > 4:
        raise ValueError(f"slot recursion too deep in {template!r}")
    return SLOT.sub(replace, template)


ARTICLE = re.compile(r"\b([Aa])n? (\S+)")


def starts_with_vowel_sound(word: str) -> bool:
    """Rough English rule for a/an, good enough for this vocabulary."""
    w = word.lower()
    if w[0].isdigit():
        return w.startswith("8") or w in {"11", "18"}
    if w.startswith(("uni", "use", "usu", "eu", "one")):
        return False
    if w.startswith(("hour", "honest")):
        return True
    return w[0] in "aeiou" or word in {"FDA", "NBA", "MRI"}


def fix_articles(sentence: str) -> str:
    """Turn 'a intense' into 'an intense' and 'an game' into 'a game'."""
    def repl(m: re.Match) -> str:
        a = m.group(1)
        return (a + "n " if starts_with_vowel_sound(m.group(2)) else a + " ") + m.group(2)

    return ARTICLE.sub(repl, sentence)


def cap(sentence: str) -> str:
    """Capitalise the first letter, but leave words like 'iPhone' or 'macOS' alone."""
    first = sentence.split(" ", 1)[0]
    if any(c.isupper() for c in first[1:]):
        return sentence
    return sentence[:1].upper() + sentence[1:]


def low(sentence: str) -> str:
    """Lowercase the first letter unless the first word is a name (capitalised in the lexicon)."""
    first = sentence.split(" ", 1)[0]
    if first.lower() in COMMON_WORDS and first[:1].isupper():
        return sentence[:1].lower() + sentence[1:]
    return sentence


def _common_words() -> set[str]:
    """Words that begin templates in lowercase, i.e. not names."""
    words = set()
    openings = TIME_OPENINGS + PLAIN_OPENINGS + CONTRASTS
    for group in list(MAIN.values()) + list(CROSS.values()) + [openings]:
        for t in group:
            first = t.split(" ", 1)[0]
            if not first.startswith("{"):
                words.add(first.strip(","))
    for table in FOLLOWUPS.values():
        for group in table.values():
            words.update(t.split(" ", 1)[0] for t in group)
    return words


COMMON_WORDS = _common_words()

# --------------------------------------------------------------------------------------------
# Sentences, items and articles
# --------------------------------------------------------------------------------------------

BRIDGES_OF = {t: [tpl for pair, tpl in BRIDGE if t in pair] for t in range(len(TOPICS))}


def pick_template(topic: int, rng: random.Random) -> tuple[str, str]:
    """(template, kind): a main template mostly, sometimes a cross-over or a bridge."""
    r = rng.random()
    if r < P_CROSS:
        return rng.choice(CROSS[topic]), "cross"
    if r < P_CROSS + P_BRIDGE:
        return rng.choice(BRIDGES_OF[topic]), "bridge"
    return rng.choice(MAIN[topic]), "main"


def main_sentence(topic: int, sentiment: int, rng: random.Random) -> tuple[str, str, str]:
    """(sentence, kind, core): one raw (uncapitalised, unpunctuated) sentence with topic and
    tone, how it was made, and its filled template without openings (for overlap checks)."""
    template, kind = pick_template(topic, rng)
    body = fill(template, sentiment, rng)
    core = normalise(fix_articles(body))
    if kind == "main" and rng.random() < P_CONTEXT:  # an event from another topic
        return fix_articles(with_context(body, topic, rng)), "context", core
    r = rng.random()
    if r < P_CONTRAST:  # opposite-tone words before the main clause
        nom = fill("{" + NOMINALS[topic] + "}", 1 - sentiment, rng)
        body = rng.choice(CONTRASTS).format(nom=nom) + body
    elif r < P_CONTRAST + P_OPENING:
        has_time = any(t in template for t in ("{when}", "{day}", "{month}", "{year}"))
        openings = PLAIN_OPENINGS if has_time else PLAIN_OPENINGS + TIME_OPENINGS
        body = fill(rng.choice(openings), sentiment, rng) + body
    return fix_articles(body), kind, core


def with_context(body: str, topic: int, rng: random.Random) -> str:
    """Attach a news event of another topic before or after the main clause."""
    other = (topic + rng.randint(1, 3)) % len(TOPICS)
    context = rng.choice(CONTEXT_LINKS) + " " + fill(rng.choice(CONTEXT[other]), 1, rng)
    if rng.random() < 0.5:
        return context + ", " + body
    return body + ", " + context


def followup_sentence(topic: int, sentiment: int, rng: random.Random) -> str:
    """A short second sentence: same tone or neutral."""
    table = FOLLOWUPS[topic]
    group = table[None] if rng.random() < 0.3 else table[sentiment]
    return fix_articles(fill(rng.choice(group), sentiment, rng))


def brief_sentence(topic: int, sentiment: int, rng: random.Random, max_words: int) -> str:
    """A short sentence from another topic, as in a news digest ("Meanwhile, ...")."""
    other = (topic + rng.randint(1, 3)) % len(TOPICS)
    link = rng.choice(MIXED_LINKS)
    for _ in range(10):
        brief = fix_articles(link + fill(rng.choice(MAIN[other]), sentiment, rng))
        if word_count(brief) <= max_words:
            break
    return brief


def topic_item(topic: int, sentiment: int, rng: random.Random) -> tuple[str, str, str]:
    """(text, key, kind): a labelled item, the core of its main sentence (kept out of the
    pretraining text) and how it was made (main, cross, bridge, context or mixed)."""
    first, kind, core = main_sentence(topic, sentiment, rng)
    sentences = [cap(first)]
    r = rng.random()
    if r < P_MIXED:
        brief = brief_sentence(topic, sentiment, rng, max_words=30 - word_count(first))
        sentences.append(cap(brief))
        kind = "mixed"
    elif r < P_MIXED + P_FOLLOWUP:
        sentences.append(cap(followup_sentence(topic, sentiment, rng)))
    text = ". ".join(sentences)
    if rng.random() < P_FINAL_PERIOD:
        text += "."
    return text, core, kind


def normalise(sentence: str) -> str:
    """Key for duplicate and overlap checks: lowercase, no trailing punctuation or spaces."""
    return sentence.lower().strip().rstrip(".?! ")


def word_count(text: str) -> int:
    return len(text.split())


# --------------------------------------------------------------------------------------------
# The labelled topic / sentiment task
# --------------------------------------------------------------------------------------------


def make_topic_splits(rng: random.Random) -> tuple[dict[str, list[dict]], set[str], dict]:
    """Balanced train/dev/test rows, the lecture's examples in test, noise in train only.

    Returns (splits, held_out, info): held_out holds the cores of the dev/test main sentences
    (kept out of the pretraining text); info has the noise counts and each text's kind.
    """
    seen = {normalise(t) for t, _, _ in LECTURE_EXAMPLES}  # texts and cores already used
    core_of = {t: normalise(t) for t, _, _ in LECTURE_EXAMPLES}
    kind_of = {t: "main" for t, _, _ in LECTURE_EXAMPLES}
    splits: dict[str, list[dict]] = {name: [] for name in SPLIT_SIZES}
    per_cell = {name: n // 2 for name, n in SPLIT_SIZES.items()}  # per (topic, sentiment)
    for topic in range(len(TOPICS)):
        for sentiment in (1, 0):
            texts = [t for t, y, s in LECTURE_EXAMPLES if (y, s) == (topic, sentiment)]
            while len(texts) < sum(per_cell.values()):
                text, core, kind = topic_item(topic, sentiment, rng)
                if {normalise(text), core} & seen or not 8 <= word_count(text) <= 30:
                    continue
                seen.update((normalise(text), core))
                core_of[text], kind_of[text] = core, kind
                texts.append(text)
            start = 0  # the lecture's examples come first, so they land in test
            for name in ("test", "dev", "train"):
                for text in texts[start:start + per_cell[name]]:
                    splits[name].append({"text": text, "topic": topic, "sentiment": sentiment})
                start += per_cell[name]
    for rows in splits.values():
        rng.shuffle(rows)
    held_out = {core_of[r["text"]] for name in ("dev", "test") for r in splits[name]}
    noise = add_label_noise(splits["train"], rng)
    return splits, held_out, {"noise": noise, "kind_of": kind_of}


def add_label_noise(rows: list[dict], rng: random.Random) -> dict:
    """Flip a fixed fraction of train labels, keeping every class count unchanged.

    Topic: in each (topic, sentiment) cell some rows move to the other three topics in equal
    shares, so each topic loses as many rows as it receives. Sentiment: in each cell of the
    noisy topics the same number of rows flips either way.
    """
    n_cells = len(TOPICS) * 2
    per_cell_topic = round(NOISE_TOPIC * len(rows) / n_cells)
    per_cell_sent = round(NOISE_SENTIMENT * len(rows) / n_cells)

    def cells() -> list[list[int]]:
        return [[i for i, r in enumerate(rows) if (r["topic"], r["sentiment"]) == (t, s)]
                for t in range(len(TOPICS)) for s in (1, 0)]

    for cell in cells():
        for j, i in enumerate(rng.sample(cell, per_cell_topic)):
            rows[i]["topic"] = (rows[i]["topic"] + 1 + j % 3) % len(TOPICS)
    for cell in cells():
        for i in rng.sample(cell, per_cell_sent):
            rows[i]["sentiment"] = 1 - rows[i]["sentiment"]
    return {"topic_flipped": per_cell_topic * n_cells,
            "sentiment_flipped": per_cell_sent * n_cells, "rows": len(rows)}


# --------------------------------------------------------------------------------------------
# Unlabelled text for the language models
# --------------------------------------------------------------------------------------------


def article(rng: random.Random, forbidden: set[str]) -> tuple[list[str], int]:
    """1-4 capitalised sentences on one topic; no main sentence is a held-out labelled one."""
    topic = rng.randrange(len(TOPICS))
    n = rng.choices([1, 2, 3, 4], weights=[50, 32, 13, 5])[0]
    tone = rng.randint(0, 1)  # an article mostly keeps one tone
    sentences = []
    for i in range(n):
        sentiment = tone if rng.random() < 0.8 else 1 - tone
        if i > 0 and rng.random() < 0.4:
            follow = cap(followup_sentence(topic, sentiment, rng))
            if follow not in sentences:  # never the same sentence twice in a line
                sentences.append(follow)
            continue
        while True:
            s, _, core = main_sentence(topic, sentiment, rng)
            if core not in forbidden:
                break
        if i > 0 and rng.random() < 0.15:  # "Meanwhile, ...", as in a news digest
            s = rng.choice(MIXED_LINKS) + s
        if cap(s) not in sentences:
            sentences.append(cap(s))
    return sentences, topic


def with_cue(sentences: list[str], topic: int, rng: random.Random) -> str:
    """Join an article and add a label-word cue at the start, the end or in the middle."""
    if rng.random() < P_CUE_WRONG:
        topic = rng.choice([t for t in range(len(LABEL_WORDS)) if t != topic])
    label = LABEL_WORDS[topic]
    text = " ".join(s + "." for s in sentences)
    r = rng.random()
    if r < 0.15 and len(sentences) >= 2:
        k = rng.randrange(1, len(sentences))
        s1 = " ".join(s + "." for s in sentences[:k])
        s2 = " ".join(s + "." for s in sentences[k:])
        form = rng.choice(CUE_MIDDLE)
        return form.format(s1=s1, s2=s2, s2low=low(s2), l=label)
    form = rng.choice(CUE_PREFIX if r < 0.5 else CUE_SUFFIX)
    return form.format(text=text, low=low(text), l=label, L=label.capitalize())


class TextIndex:
    """Finds whether a line contains one of many texts (case-insensitive), via 3-word prefixes."""

    def __init__(self, texts: list[str]):
        self.by_prefix: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for text in texts:
            norm = normalise(text)
            self.by_prefix[tuple(norm.split()[:3])].append(norm)

    def found_in(self, line: str) -> bool:
        lower = line.lower()
        words = lower.split()
        for i in range(len(words) - 2):
            for norm in self.by_prefix.get(tuple(words[i:i + 3]), ()):
                if norm in lower:
                    return True
        return False


def make_lm_lines(n: int, rng: random.Random, forbidden: set[str], held_out: TextIndex,
                  exclude_lines: set[str]) -> tuple[list[str], int]:
    """n unique lines of LM text that contain no held-out labelled text.

    Returns (lines, number of lines with a label-word cue).
    """
    lines, seen, n_cue = [], set(exclude_lines), 0
    while len(lines) < n:
        sentences, topic = article(rng, forbidden)
        cue = rng.random() < P_CUE
        line = with_cue(sentences, topic, rng) if cue else " ".join(s + "." for s in sentences)
        if line in seen or held_out.found_in(line):
            continue
        seen.add(line)
        lines.append(line)
        n_cue += cue
    return lines, n_cue


# --------------------------------------------------------------------------------------------
# Statistics for the data card (stdlib only)
# --------------------------------------------------------------------------------------------

TOKEN = re.compile(r"[a-z0-9]+|[^a-z0-9\s]")


def tokenize(text: str) -> list[str]:
    """Words as the package's tokenizer splits them (course_lib/tokenizer.py): lowercase,
    punctuation split off."""
    return TOKEN.findall(text.lower())


def keyword_topicality(train: list[dict], min_count: int, alpha: float) -> dict[str, tuple]:
    """word -> (P(topic | word), number of train texts, topic) for words in >= min_count
    train texts; P is smoothed with alpha pseudo-counts per topic."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for row in train:
        for w in set(tokenize(row["text"])):
            counts[w][row["topic"]] += 1
    table = {}
    for w, c in counts.items():
        total = sum(c.values())
        if total >= min_count:
            label, top = c.most_common(1)[0]
            table[w] = ((top + alpha) / (total + alpha * len(TOPICS)), total, label)
    return table


def keyword_rule_accuracy(train: list[dict], test: list[dict], min_count: int = 20,
                          alpha: float = 1.0) -> float:
    """'Predict the topic of the most topical keyword': the word of the text with the highest
    P(topic | word) decides (ties: the more frequent word; no keyword: topic 0)."""
    table = keyword_topicality(train, min_count, alpha)
    correct = 0
    for row in test:
        scored = [table[w] for w in set(tokenize(row["text"])) if w in table]
        guess = max(scored)[2] if scored else 0
        correct += guess == row["topic"]
    return correct / len(test)


FUNCTION_WORDS = {"with", "about", "after", "their", "were", "from", "that", "this", "said",
                  "night", "week", "company", "over", "into", "than", "more", "have", "will"}


def top_keywords(train: list[dict], per_topic: int = 5) -> dict[str, list[str]]:
    """The most frequent content words of each topic with their P(topic | word)."""
    table = keyword_topicality(train, min_count=30, alpha=0.0)
    out = {}
    for t, name in enumerate(TOPICS):
        words = [(n, w, p) for w, (p, n, lab) in table.items()
                 if lab == t and w.isalpha() and len(w) > 3 and p >= 0.5
                 and w not in FUNCTION_WORDS]
        words.sort(reverse=True)
        out[name] = [f"{w} {p:.2f}" for _, w, p in words[:per_topic]]
    return out


def collect_stats(splits: dict, pretrain: list[str], valid: list[str], n_cue: int,
                  n_cue_valid: int, info: dict) -> dict:
    """Numbers quoted in the data card (all deterministic)."""
    texts = [r["text"] for rows in splits.values() for r in rows]
    vocab = Counter(w for t in texts + pretrain + valid for w in tokenize(t))
    lengths = [word_count(t) for t in texts]
    kinds = Counter(info["kind_of"][t] for t in texts)
    train, test = splits["train"], splits["test"]
    return {
        "rows": {k: len(v) for k, v in splits.items()},
        "words_min": min(lengths),
        "words_max": max(lengths),
        "words_mean": round(sum(lengths) / len(lengths), 1),
        "two_sentence": round(sum(". " in t for t in texts) / len(texts), 3),
        "kinds": {k: round(kinds[k] / len(texts), 3) for k in KIND_NOTES},
        "pretrain_lines": len(pretrain),
        "pretrain_words": sum(word_count(l) for l in pretrain),
        "pretrain_cue": round(n_cue / len(pretrain), 3),
        "valid_lines": len(valid),
        "valid_words": sum(word_count(l) for l in valid),
        "valid_cue": round(n_cue_valid / len(valid), 3),
        "vocab": len(vocab),
        "vocab_words": sum(1 for w in vocab if w.isalpha()),
        "vocab_rare": sum(1 for c in vocab.values() if c < 5),
        "numbers": len([w for w in vocab if w.isdigit()]),
        "noise": info["noise"],
        "keyword_rule": round(keyword_rule_accuracy(train, test), 3),
        "keyword_rule_10": round(keyword_rule_accuracy(train, test, 10, 1.0), 3),
        "keyword_rule_raw": round(keyword_rule_accuracy(train, test, 5, 0.0), 3),
        "top_keywords": top_keywords(train),
    }


# --------------------------------------------------------------------------------------------
# Checks and writing
# --------------------------------------------------------------------------------------------


def check(splits: dict[str, list[dict]], pretrain: list[str], valid: list[str]) -> None:
    """Fail loudly if a promise of the data card does not hold."""
    test_texts = {r["text"] for r in splits["test"]}
    for text, _, _ in LECTURE_EXAMPLES:
        assert text in test_texts, text
    all_texts = [r["text"] for rows in splits.values() for r in rows]
    assert len(set(all_texts)) == len(all_texts), "duplicate topic texts"
    assert not set(valid) & set(pretrain), "lm_valid overlaps pretrain"
    corpus = "\n".join(pretrain + valid).lower()
    for name in ("dev", "test"):
        for r in splits[name]:
            assert normalise(r["text"]) not in corpus, f"{name} text in LM text: {r['text']}"
    for line in pretrain + valid + all_texts:
        assert line.isascii() and "\n" not in line, line


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=True) + "\n" for row in rows)


def write(name: str, content: str) -> int:
    """Write one file under DATA_DIR with Unix newlines; returns its size in bytes."""
    data = content.encode("ascii")
    (DATA_DIR / name).write_bytes(data)
    return len(data)


def main() -> None:
    t0 = time.time()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    splits, held_out, info = make_topic_splits(random.Random(SEED))
    index = TextIndex([r["text"] for name in ("dev", "test") for r in splits[name]])
    pretrain, n_cue = make_lm_lines(N_PRETRAIN_LINES, random.Random(SEED + 1), held_out, index,
                                    set())
    valid, n_cue_valid = make_lm_lines(N_VALID_LINES, random.Random(SEED + 2), held_out, index,
                                       set(pretrain))
    check(splits, pretrain, valid)
    sizes = {f"topic_{name}.jsonl": write(f"topic_{name}.jsonl", jsonl(rows))
             for name, rows in splits.items()}
    sizes["pretrain.txt"] = write("pretrain.txt", "\n".join(pretrain) + "\n")
    sizes["lm_valid.txt"] = write("lm_valid.txt", "\n".join(valid) + "\n")
    stats = collect_stats(splits, pretrain, valid, n_cue, n_cue_valid, info)
    write("DATA_CARD.md", data_card(stats, sizes))
    print(f"topic rows {stats['rows']}, pretrain {stats['pretrain_lines']} lines "
          f"({stats['pretrain_words']} words, {stats['pretrain_cue']:.0%} with a cue), "
          f"vocabulary {stats['vocab']} tokens, keyword rule {stats['keyword_rule']:.1%}")
    print(f"wrote {DATA_DIR} in {time.time() - t0:.1f} s")


# --------------------------------------------------------------------------------------------
# The data card
# --------------------------------------------------------------------------------------------

KIND_NOTES = {
    "main": "an ordinary sentence of its topic",
    "context": "a sentence of its topic with an event of another topic attached "
               "(\"..., a week after a measles outbreak in Houston\")",
    "cross": "a cross-over: the topic is clear to a reader, but much of the vocabulary belongs "
             "to another topic (\"Shares of health insurers jumped ...\" is Finance)",
    "bridge": "ambiguous: the same template is used for two topics (\"Pfizer stock fell after "
              "its vaccine failed ...\" is Finance or Health); nobody can be sure",
    "mixed": "a lead sentence of its topic, then a news brief from another topic "
             "(\"... Meanwhile, ...\"); the lead decides, which a bag of words cannot see",
}

BASELINE_SNIPPET = """\
pip install scikit-learn   # only for this check; the generator needs nothing
python - <<'EOF'
import json, re
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
tok = lambda t: re.findall(r"[a-z0-9]+|[^a-z0-9\\s]", t.lower())
load = lambda s: [json.loads(l) for l in open(f"course_lib/data/topic_{s}.jsonl")]
train, test = load("train"), load("test")
vec = CountVectorizer(tokenizer=tok, lowercase=False, token_pattern=None)
X_train = vec.fit_transform([r["text"] for r in train])
X_test = vec.transform([r["text"] for r in test])
for task in ("topic", "sentiment"):
    clf = LogisticRegression(max_iter=2000).fit(X_train, [r[task] for r in train])
    print(task, round(clf.score(X_test, [r[task] for r in test]), 3))
EOF"""


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def size_text(n: int) -> str:
    return f"{n / 2**20:.2f} MiB" if n > 2**20 else f"{n / 1024:.0f} KiB"


def card_tables(st: dict, sizes: dict[str, int]) -> dict[str, str]:
    """The Markdown tables of the data card."""
    rows, b = st["rows"], MEASURED_BASELINES
    files = [
        ("topic_train.jsonl", f"{rows['train']} rows, {rows['train'] // 4} per topic, "
                              "with label noise (below)"),
        ("topic_dev.jsonl", f"{rows['dev']} rows, {rows['dev'] // 4} per topic, clean"),
        ("topic_test.jsonl", f"{rows['test']} rows, {rows['test'] // 4} per topic, clean; "
                             "holds the lecture's 4 examples"),
        ("pretrain.txt", f"{st['pretrain_lines']:,} lines, {st['pretrain_words']:,} words; "
                         "one 1-4 sentence \"article\" a line"),
        ("lm_valid.txt", f"{st['valid_lines']:,} held-out lines ({st['valid_words']:,} words), "
                         "same distribution, for perplexity"),
    ]
    baselines = [
        ("majority class", "25.0 %", "50.0 %"),
        ("most topical keyword (rule below)", pct(st["keyword_rule"]), ""),
        ("bag-of-words logistic regression", pct(b["topic_logreg_test"]),
         pct(b["sentiment_logreg_test"])),
    ]
    return {
        "files": "\n".join(f"| `{name}` | {size_text(sizes[name])} | {what} |"
                           for name, what in files),
        "kinds": "\n".join(f"| {k} | {pct(st['kinds'][k])} | {note} |"
                           for k, note in KIND_NOTES.items()),
        "keywords": "\n".join(f"| {t} | {', '.join(ws)} |"
                              for t, ws in st["top_keywords"].items()),
        "baselines": "\n".join(f"| {m} | {t} | {s} |" for m, t, s in baselines),
    }


def data_card(st: dict, sizes: dict[str, int]) -> str:
    """DATA_CARD.md from the measured statistics."""
    tables = card_tables(st, sizes)
    noise, kinds = st["noise"], st["kinds"]
    n_rows = noise["rows"]
    return f"""# Data card: `course_lib/data/`

Synthetic English news sentences for the "Model Efficiency" lecture: a topic classification
task (the lecture's [CLS] / [MASK] / prompt examples), a second sentiment task on the same
texts, and unlabelled text to pre-train a tiny masked LM and a tiny causal LM.
**Every event is invented.** Real team, company and product names appear only as vocabulary.

## Files

| file | size | what it holds |
| --- | --- | --- |
{tables['files']}
| `DATA_CARD.md` | | this file |

Each `topic_*.jsonl` line is `{{"text": str, "topic": int, "sentiment": int}}`:

* `topic`: 0 Sports, 1 Finance, 2 Technology, 3 Health (the lecture's C1-C4).
* `sentiment`: 1 positive news tone ("won", "surged", "recovered", "breakthrough"),
  0 negative ("lost", "crashed", "outbreak", "recall"). Each topic is exactly half positive
  in every split (before the train noise), so tone says nothing about topic.
* Texts are cased like the lecture, ASCII only, {st['words_min']}-{st['words_max']} words
  (mean {st['words_mean']}; the shortest is the lecture's own 7-word example);
  {pct(st['two_sentence'])} have two sentences; about half end with a period.
* The lecture's examples are test rows with their lecture labels: "The Houston Rockets won an
  intense overtime game" (Sports), "Bitcoin hit a new all-time high this week" (Finance),
  "Tesla launched a new self-driving software update" (Technology), "Flu cases are rising in
  several major cities" (Health).

## How it was made

```
python -m course_lib.make_data      # or: python course_lib/make_data.py
```

`course_lib/make_data.py` uses only the standard library and `random.Random({SEED})`
(separate streams for the labelled set, `pretrain.txt` and `lm_valid.txt`). A run takes a few
seconds and writes byte-identical files. Sentences come from 40+ templates per topic (plain
clauses; "as", "after", "who" and "while" clauses; reported speech; openings such as
"On Friday," or "Despite a slow start,"; follow-up sentences) filled from shared word lists:
cities, teams, players, companies, products, diseases, hospitals, currencies and tone-bearing
verbs. Entities are shared across topics: Tesla is in finance and technology news, a city has
a team and hospitals, a player's knee surgery is a sports or a health story, a fitness tracker
is technology or health.

What kind of item each row is (all {sum(st['rows'].values())} rows):

| kind | share | meaning |
| --- | --- | --- |
{tables['kinds']}

So {pct(kinds['bridge'] + kinds['mixed'])} of the items are ambiguous or mixed-topic, and
another {pct(kinds['context'] + kinds['cross'])} carry much vocabulary of a second topic.
Tone is made harder by direction words whose meaning depends on the subject ("flu cases rose"
is bad news, "shares rose" good news) and by openings of the opposite tone
("Despite a slow start, the Bulls won ...").

**Label noise (train only):** {noise['topic_flipped']} of {n_rows} training topics
({pct(noise['topic_flipped'] / n_rows)}) were changed to a random other topic, and
{noise['sentiment_flipped']} of {n_rows} sentiments ({pct(noise['sentiment_flipped'] / n_rows)})
were flipped. Dev and test labels are clean.

## Language-model text

`pretrain.txt` and `lm_valid.txt` come from the same sentence generators with other random
draws; the sentences of a line share a topic and mostly a tone. {pct(st['pretrain_cue'])} of
the pretraining lines ({pct(st['valid_cue'])} of `lm_valid.txt`) carry a natural cue that ties
the content to a label word, in varied forms and positions, so that a masked LM pre-trained on
them has a chance to answer the zero-shot prompt `<sentence> What is the topic? [MASK]` with
`sports` / `finance` / `technology` / `health`:

* before the text: "Sports: ...", "In health news, ...", "From the finance desk: ...",
  "Here is a technology story. ...", "Category: sports. ...";
* after the text: "... What is the topic? Finance.", "... The topic is health.",
  "... This story is about sports.", "... It is related to technology.",
  "Please read this sentence: ... What is the topic? Sports.";
* between two sentences: "... In other sports news, ...".

The other lines are plain articles. Checked on every run: no dev or test text (lowercased,
without its final period) occurs anywhere in `pretrain.txt` or `lm_valid.txt`, and no line of
`lm_valid.txt` is a line of `pretrain.txt` (single sentences do recur, as in any news corpus).
Training sentences may occur in the LM text, as unlabelled text often overlaps a training set.

## Vocabulary

A word-level tokenizer that lowercases and splits off punctuation
(`re.findall(r"[a-z0-9]+|[^a-z0-9\\s]", text.lower())`, as in `course_lib/tokenizer.py`)
finds {st['vocab']:,} distinct tokens in all files together: {st['vocab_words']:,} words,
{st['numbers']} numbers from a short list (`3`, `12`, `2024`, the `000` of `20,000`, ...), a few
mixed tokens (`76ers`, `5g`) and the punctuation `. , ? : ' - $ %`.
{st['vocab_rare']} tokens occur fewer than 5 times.

## Baselines (test set)

| model | topic | sentiment |
| --- | --- | --- |
{tables['baselines']}

* **Most topical keyword** (computed by `make_data.py`): every keyword, i.e. every token seen
  in at least 20 training texts, gets its topic and P(topic | word) (add-one smoothed); a test
  text gets the topic of its keyword with the highest P. Counting rarer words lets the rule
  lean on words that happen to be pure in the training set (often the words of one template):
  with words seen in 10 texts it scores {pct(st['keyword_rule_10'])}; with words seen in 5 texts
  and no smoothing {pct(st['keyword_rule_raw'])}, about as good as logistic regression, because in
  text made from templates a rare template word is a reliable fingerprint. No frequent keyword
  decides the label; the most frequent topical words are far from pure (P(topic | word) in
  training):

| topic | frequent words and P(topic \\| word) |
| --- | --- |
{tables['keywords']}

* **Bag-of-words logistic regression** (scikit-learn, C = 1), run from the repository root:

```
{BASELINE_SNIPPET}
```

## Intended difficulty

Counting words gets most items right, but not all: bridge items are coin flips for every model,
mixed items need word order (which sentence comes first), and cross-over and context items
punish a model that trusts one keyword. A fine-tuned tiny transformer is meant to reach or beat
the bag-of-words baseline, and a zero-shot prompt after pre-training on `pretrain.txt` to land
between chance (25 %) and the supervised models. Sentiment is about as hard as topic and
independent of it by construction.

After changing the generator: regenerate, rerun the snippet above and update
`MEASURED_BASELINES` in `make_data.py`, so that this card stays true.
"""


if __name__ == "__main__":
    main()

/**
 * Deterministic benchmark data for the ROUGE-L dedup benchmark: instruction strings of the kind step 1 of
 * I-SHEEP produces (varied verbs and task types, one or two sentences, sometimes a quoted input), and pairs
 * of texts to compare ROUGE-L scores on.
 *
 * Fresh instructions come from templates with several independent slots filled from vocabularies, plus
 * optional openers and constraint clauses. 22% of the stream (VARIANT_SHARE) instead rewrites an earlier
 * instruction with one to five small edits (a word swapped, dropped or added, a number changed, a clause
 * appended, case or punctuation changed), so its ROUGE-L F1 with that ancestor spreads on both sides of
 * the 0.7 bar. Case, punctuation, digits, hyphens, apostrophes and a few non-ASCII letters are there on
 * purpose: rouge-score's tokenizer decides how they count.
 *
 * Nothing starts with punctuation or a non-ASCII character and nothing contains a URL, so the stage's
 * other filters (bad_start, url) never fire and filterInstructions does the same work as a bare DedupIndex.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRng, type Rng } from '../src/stages/rng.js';

export const DEFAULT_SEED = 20240611;

const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.int(items.length)] as T;
const chance = (rng: Rng, p: number): boolean => rng.next() < p;

const TOPICS = [
  'the French Revolution', 'photosynthesis', 'black holes', 'the stock market', 'climate change',
  'machine learning', 'the Roman Empire', 'quantum computing', 'the water cycle', 'supply and demand',
  'the immune system', 'renewable energy', 'social media', 'the Great Depression', 'plate tectonics',
  'blockchain technology', 'the human heart', 'the history of jazz', 'compound interest', 'vaccines',
  'the Cold War', 'artificial intelligence', 'ocean currents', 'the Renaissance', 'inflation',
  'electric cars', 'the printing press', 'remote work', 'honeybees', 'volcanoes', 'the Silk Road',
  'DNA replication', 'the U.S. Constitution', 'COVID-19', 'the Industrial Revolution', 'urban gardening',
  'cryptography', 'the Moon landing', 'minimalism', 'Node.js', 'HTTP/2', 'C++ templates', 'the iPhone 15',
  'SQL joins', 'Zürich\'s tram network', 'café culture in Paris', 'İstanbul\'s history', 'naïve Bayes',
  'the 2008 financial crisis', 'the 3-body problem', 'e-mail etiquette', 'CO2 emissions', 'the Big Bang',
  'sleep hygiene', 'time management', 'public speaking', 'the Olympic Games', 'coral reefs',
  'the theory of evolution', 'nuclear fusion', 'Wi-Fi security', 'open-source software', 'the Euro',
];
const AUDIENCES = [
  'a 10-year-old', 'a high school student', 'a busy CEO', 'a beginner programmer', 'my grandmother',
  'a first-year medical student', 'non-native English speakers', 'a skeptical investor', 'new employees',
  'a group of teenagers', 'someone who has never used a computer', 'an expert audience', 'a 5th grader',
  'a small-business owner', 'college freshmen', 'retired engineers',
];
const FORMS = [
  'poem', 'short story', 'haiku', 'limerick', 'blog post', 'news headline', 'tweet', 'product description',
  'cover letter', 'speech', 'dialogue', 'riddle', 'slogan', 'fable', 'song chorus', 'movie pitch',
  'diary entry', 'letter', 'essay outline', 'advertisement',
];
const ADJECTIVES = [
  'short', 'funny', 'persuasive', 'formal', 'heartfelt', 'sarcastic', 'whimsical', 'concise', 'detailed',
  'upbeat', 'dramatic', 'mysterious', 'motivational', 'informal', 'thoughtful', 'playful', 'melancholic',
];
const TONES = ['more formal', 'friendlier', 'more concise', 'less technical', 'more exciting', 'more polite', 'clearer', 'more neutral'];
const LANGUAGES = ['French', 'Spanish', 'German', 'Italian', 'Japanese', 'Portuguese', 'Dutch', 'Swedish', 'Polish', 'Turkish'];
const SUBJECTS = [
  'the cat', 'my neighbor', 'the committee', 'our team', 'the old lighthouse keeper', 'a young scientist',
  'the city council', 'the students', 'a tired nurse', 'the new manager', 'the little robot', 'my brother',
  'the mayor', 'a retired pilot', 'the twins', 'our landlord', 'the night-shift baker', 'a nervous intern',
  'the orchestra', 'Grandma Rosa', 'the quiet librarian', 'two rival chefs', 'the village doctor', 'a stray dog',
  'the football coach', 'my 7-year-old niece', 'the IT department', 'a famous actor', 'the ship\'s captain',
];
const VERBS_PAST = [
  'finished', 'forgot', 'discovered', 'cancelled', 'approved', 'painted', 'repaired', 'ignored', 'planned',
  'explained', 'delivered', 'questioned', 'celebrated', 'postponed', 'stole', 'rewrote', 'photographed',
  'sold', 'lost', 'organized', 'criticized', 'borrowed', 'measured', 'rescheduled', 'hid', 'translated',
];
const OBJECTS = [
  'the report', 'the meeting', 'a strange map of the stars', 'the birthday cake', 'the broken window',
  'the budget', 'an old letter', 'the final exam', 'the garden fence', 'the new policy', 'the marathon',
  'the museum tour', 'the quarterly results', 'the science fair project', 'a box of old photographs',
  'the wedding speech', 'three library books', 'the company picnic', 'a secret recipe', 'the annual budget review',
  'the school play', 'a bicycle with no brakes', 'the mysterious package', 'the team\'s travel plans',
  'a 300-page novel', 'the neighborhood cleanup', 'the emergency drill', 'an expensive telescope',
];
const TIMES = [
  'yesterday', 'last week', 'on Monday', 'before lunch', 'in 1999', 'at 3:30 p.m.', 'after the storm',
  'during the holidays', 'two days ago', 'this morning', 'in March 2021', 'without telling anyone',
  'for the third time', 'at midnight', 'despite the rain', 'on a Sunday afternoon', 'in under 5 minutes',
  'right after breakfast', 'in front of everyone', 'by accident', 'on purpose', 'in 2017',
];
const CATEGORIES = [
  'renewable energy sources', 'mammals that live in the ocean', 'programming languages', 'board games',
  'healthy breakfast foods', 'famous painters', 'cloud computing services', 'European capitals',
  'team-building activities', 'common logical fallacies', 'prime numbers', 'Nobel Prize winners',
  'sorting algorithms', 'indoor plants', 'data structures', 'ancient civilizations',
];
const PAIRS: readonly (readonly [string, string])[] = [
  ['a virus', 'a bacterium'], ['weather', 'climate'], ['RAM', 'ROM'], ['a simile', 'a metaphor'],
  ['TCP', 'UDP'], ['stocks', 'bonds'], ['affect', 'effect'], ['mitosis', 'meiosis'], ['a crocodile', 'an alligator'],
  ['Python lists', 'tuples'], ['socialism', 'communism'], ['speed', 'velocity'], ['a lake', 'a pond'],
  ['HTTP', 'HTTPS'], ['empathy', 'sympathy'], ['a debit card', 'a credit card'], ['git merge', 'git rebase'],
];
const TASKS = [
  'reverses a string', 'checks whether a number is prime', 'returns the n-th Fibonacci number',
  'removes duplicates from a list', 'counts the vowels in a sentence', 'merges two sorted arrays',
  'converts Celsius to Fahrenheit', 'finds the longest word in a text', 'validates an e-mail address',
  'computes the GCD of two integers', 'flattens a nested list', 'checks if a string is a palindrome',
  'sorts a dictionary by value', 'parses a CSV line', 'returns the median of a list',
];
const PROG_LANGS = ['Python', 'JavaScript', 'Java', 'C++', 'Rust', 'Go', 'TypeScript', 'Ruby', 'C#', 'Kotlin', 'SQL', 'Bash'];
const GOALS = [
  'run a 5K', 'learn to cook', 'save $500 a month', 'learn basic Spanish', 'sleep better', 'read 20 books a year',
  'start a podcast', 'get fit at home', 'prepare for a job interview', 'reduce screen time', 'learn to play chess',
];
const PLANS = ['training plan', 'meal plan', 'study schedule', 'workout routine', 'reading plan', 'budget', 'itinerary'];
const BUSINESSES = ['bakery', 'coffee shop', 'bookstore', 'startup', 'food truck', 'yoga studio', 'pet store', 'bike shop', 'app'];
const PRODUCTS = [
  'handmade candles', 'vegan snacks', 'used textbooks', 'eco-friendly shoes', 'smart home devices',
  'organic tea', 'vintage clothing', 'kids\' toys', 'custom T-shirts', 'houseplants',
];
const PEOPLE = [
  'a job candidate', 'a new roommate', 'a potential client', 'a historian', 'a doctor', 'an astronaut',
  'a landlord', 'a software engineer', 'a famous author', 'my manager', 'a nutritionist',
];
const RECIPIENTS = ['my professor', 'a customer', 'the HR department', 'my landlord', 'a colleague', 'the hotel manager', 'our team'];
const EMAIL_PURPOSES = [
  'requesting a deadline extension', 'complaining about a late delivery', 'declining a meeting invitation',
  'asking for a refund', 'thanking them for their help', 'following up on a job application',
  'reporting a broken heater', 'proposing a new project', 'apologizing for a mistake',
];
const PLACES = [
  'Rome', 'Kyoto', 'New York City', 'Cairo', 'São Paulo', 'Reykjavík', 'Mumbai', 'Lagos', 'Sydney', 'Montréal',
  'Berlin', 'Lima', 'Istanbul', 'Hanoi', 'Nairobi', 'Vienna', 'Buenos Aires', 'Seoul', 'Marrakesh', 'Oslo',
  'Mexico City', 'Athens', 'Bangkok', 'Cape Town', 'Edinburgh', 'Havana', 'Kraków', 'Lisbon', 'Tehran', 'Vancouver',
];
const ASPECTS = [
  'daily life', 'architecture', 'food', 'trade', 'politics', 'transportation', 'education', 'fashion',
  'music scene', 'religious life', 'medicine', 'sports', 'street markets', 'childhood', 'weddings', 'water supply',
];
const CENTURIES = [
  '1st century', '12th century', '15th century', '18th century', '1920s', '1960s', '19th century', '1980s',
  '10th century', '1750s', '2000s', '5th century BC', '17th century', '1890s',
];
const UNITS: readonly (readonly [string, string])[] = [
  ['miles', 'kilometers'], ['pounds', 'kilograms'], ['liters', 'gallons'], ['inches', 'centimeters'],
  ['degrees Fahrenheit', 'degrees Celsius'], ['km/h', 'm/s'], ['ounces', 'grams'], ['feet', 'meters'],
];
const ITEM_POOL = [
  'apple', 'carrot', 'banana', 'potato', 'grape', 'dolphin', 'shark', 'whale', 'salmon', 'seal', 'Python', 'HTML',
  'Java', 'CSS', 'Rust', 'oak', 'rose', 'pine', 'tulip', 'maple', 'Mars', 'Moon', 'Venus', 'Titan', 'Earth',
  'violin', 'drum', 'flute', 'cello', 'trumpet', 'copper', 'wood', 'iron', 'glass', 'silver', '2', '9', '15', '21',
  '33', 'a bicycle', 'a smartphone', 'a diamond ring', 'a used car', 'a cup of coffee', 'skydiving', 'swimming',
  'chess', 'Wi-Fi', 'e-books', 'Lego', 'Twitter/X', 'the iPad', 'gold', 'bread', 'a house in London',
];
const CLASS_PAIRS: readonly (readonly [string, string])[] = [
  ['fruit', 'vegetable'], ['fish', 'mammal'], ['programming language', 'markup language'], ['tree', 'flower'],
  ['planet', 'moon'], ['string', 'percussion'], ['metal', 'non-metal'], ['prime', 'composite'],
];
const FACTS = [
  'the Great Wall of China is visible from space', 'humans use only 10% of their brains',
  'lightning never strikes the same place twice', 'bats are blind', 'water boils at 100 °C at sea level',
  'Mount Everest is the tallest mountain on Earth', 'goldfish have a 3-second memory', 'the Sun is a star',
  'glass is a liquid', 'Napoleon was unusually short', 'an octopus has three hearts', 'sound travels faster in water',
  'cracking your knuckles causes arthritis', 'sugar makes children hyperactive', 'we lose most heat through our heads',
  'bulls are enraged by the color red', 'Vikings wore horned helmets', 'the tongue has separate taste zones',
  'chameleons change color to blend in', 'Einstein failed math at school', 'bananas grow on trees',
  'a penny dropped from a skyscraper can kill', 'shaving makes hair grow back thicker', 'ostriches bury their heads',
  'the Earth is closest to the Sun in January', 'dogs see only in black and white', 'Antarctica is a desert',
];
const CONSTRAINTS = [
  'Keep it under 100 words.', 'Use no more than three sentences.', 'Use a friendly tone.',
  'Include at least one example.', 'Avoid technical jargon.', 'Answer in a numbered list.',
  'Do not use the letter "e".', 'Make it suitable for children.', 'Cite one reliable source.',
  'Write it in the second person.', 'End with a question.', 'Use bullet points.', 'Be as specific as possible.',
  'Limit your answer to 50 words.', 'Start with a short summary.', 'Don\'t repeat yourself.',
  'Explain your reasoning step by step.', 'Use simple words only.', 'Add a catchy title.',
];
const OPENERS = ['Please ', 'Can you ', 'I need you to ', 'Could you please ', 'Quickly ', 'Now, '];

function sentence(rng: Rng): string {
  const s = `${pick(rng, SUBJECTS)} ${pick(rng, VERBS_PAST)} ${pick(rng, OBJECTS)} ${pick(rng, TIMES)}`;
  return s.charAt(0).toUpperCase() + s.slice(1) + pick(rng, ['.', '.', '.', '!', '...']);
}

const n = (rng: Rng, lo: number, hi: number): number => lo + rng.int(hi - lo + 1);

const TOPIC_FRAMES = [
  'the history of', 'the economics of', 'common myths about', 'the future of', 'the ethics of',
  'recent advances in', 'the main causes of', 'the basics of', 'the environmental impact of', 'the science behind',
  'the pros and cons of', 'the role of women in', 'a surprising fact about', 'the biggest challenges in',
  'the cultural impact of', 'the risks of', 'how teenagers think about', 'the vocabulary of',
];
const CONTEXTS = [
  'for a school newsletter', 'for a podcast intro', 'for a museum placard', 'for a LinkedIn post',
  'for a birthday card', 'for a conference keynote', 'for a children\'s magazine', 'for a company wiki',
  'for a travel blog', 'for a science fair poster', 'for a radio ad', 'for a job interview', 'for a comic strip',
  'for an exam review sheet', 'for a Reddit thread', 'for a product launch', 'for a wedding toast',
];

/** A slot's value. */
const SLOTS: Record<string, (rng: Rng) => string> = {
  TOPIC: (r) => (chance(r, 0.55) ? `${pick(r, TOPIC_FRAMES)} ${pick(r, TOPICS)}` : pick(r, TOPICS)),
  AUDIENCE: (r) => pick(r, AUDIENCES),
  FORM: (r) => pick(r, FORMS),
  ADJ: (r) => pick(r, ADJECTIVES),
  TONE: (r) => pick(r, TONES),
  LANGUAGE: (r) => pick(r, LANGUAGES),
  SENTENCE: (r) => sentence(r),
  CATEGORY: (r) => pick(r, CATEGORIES),
  PAIR: (r) => pick(r, PAIRS).join(' and '),
  TASK: (r) => pick(r, TASKS),
  PROG: (r) => pick(r, PROG_LANGS),
  GOAL: (r) => pick(r, GOALS),
  PLAN: (r) => pick(r, PLANS),
  BUSINESS: (r) => pick(r, BUSINESSES),
  PRODUCT: (r) => pick(r, PRODUCTS),
  PERSON: (r) => pick(r, PEOPLE),
  RECIPIENT: (r) => pick(r, RECIPIENTS),
  PURPOSE: (r) => pick(r, EMAIL_PURPOSES),
  PLACE: (r) => pick(r, PLACES),
  ASPECT: (r) => pick(r, ASPECTS),
  CENTURY: (r) => pick(r, CENTURIES),
  UNITS: (r) => { const [a, b] = pick(r, UNITS); return `${n(r, 2, 500)} ${a} to ${b}`; },
  ITEMS: (r) => r.sample(ITEM_POOL, n(r, 4, 6)).join(', '),
  CLASSES: (r) => { const [a, b] = pick(r, CLASS_PAIRS); return `a ${a} or a ${b}`; },
  FACT: (r) => pick(r, FACTS),
  CONTEXT: (r) => pick(r, CONTEXTS),
  MONEY: (r) => `$${n(r, 1, 50) * 100 >= 1000 ? ((n(r, 1, 50) * 100) / 1000).toFixed(1).replace('.0', '') + ',000' : n(r, 1, 9) * 100}`,
  STORY: (r) => Array.from({ length: n(r, 3, 7) }, () => sentence(r)).join(' '),
};

/**
 * Templates in a small grammar: {a|b|c} picks one alternative (nested braces allowed, an alternative may be
 * empty), $NAME fills a slot, #lo-hi a number. Each expansion begins with an ASCII letter.
 */
const TEMPLATES: readonly string[] = [
  '{Write|Compose|Draft|Create|Come up with} a $ADJ $FORM about $TOPIC{| for $AUDIENCE| $CONTEXT}.',
  '{Explain|Describe|Break down|Clarify} $TOPIC {to|for} $AUDIENCE{| in #2-6 sentences| using an everyday analogy| without using jargon}.',
  '{Summarize|Condense|Give a summary of} the following {text|paragraph|passage} in #2-5 {bullet points|sentences|words or fewer}: "$SENTENCE $SENTENCE"',
  '{Translate|Render} "$SENTENCE" {into|in} $LANGUAGE{|, keeping the tone| and explain any idioms}.',
  '{Give|List|Name|Provide} #3-10 examples of $CATEGORY{| and explain why each one matters| with a one-line description of each| that $AUDIENCE would recognize}.',
  '{What is|Explain} the difference between $PAIR{?| in simple terms.|? Give an example of each.| for $AUDIENCE.}',
  '{Classify|Sort|Label} each of the following as $CLASSES: $ITEMS.',
  '{Convert|Change} $UNITS{| and show your work| using a conversion table|, rounding to two decimals}.',
  '{Rewrite|Rephrase|Edit} this {sentence|text|message} {so that it sounds|to make it} $TONE: "$SENTENCE"',
  '{Create|Design|Put together|Draft} a #3-30-day $PLAN for $AUDIENCE who {wants|hopes|needs} to $GOAL.',
  '{Suggest|Brainstorm|Think of} #3-12 {names|slogans|taglines} for a $BUSINESS that sells $PRODUCT{| in $PLACE| online}.',
  '{Generate|Write|Prepare} a list of #5-15 questions {to ask|for} $PERSON about $TOPIC.',
  'Fix the {grammar|grammar and spelling|punctuation} in {this sentence|the following text}: "$SENTENCE"',
  '{Is it true|Is it a fact|Is it a myth|Do scientists agree|Can you confirm|Is there evidence} that $FACT? {Answer yes or no, then explain|Explain|Justify your answer|Give evidence} in #1-4 sentences.',
  '{Compose|Write|Draft} {an email|a short note|a polite message} to $RECIPIENT $PURPOSE{.| and keep it under #50-200 words.}',
  'Solve {for x|the equation|this}: #2-19x {+|-} #1-99 = #100-999{.| and check your answer.| and explain each step.}',
  'What is #12-99 {times|plus|divided by|minus} #12-999{?|? Show the calculation.}',
  '{Find|Calculate|Compute} the {area|perimeter} of a {circle with radius|square with side|rectangle of #2-30 by} #2-40 {cm|m|inches}.',
  'A {train|cyclist|car|drone} travels #50-300 {km|miles} in #2-5 hours. {What is its average speed?|How far does it go in #6-9 hours at the same speed?}',
  '{If|Suppose} $PERSON {saves|spends|earns} $MONEY a {month|week|year}, how much is that over #2-15 years{?| with #2-7% interest?}',
  '{Write|Implement|Code} a $PROG function that $TASK{.|, with comments.| and include unit tests.| in O(n) time.}',
  '{Describe|What was|Paint a picture of|Write about} the $ASPECT of $PLACE {in|during} the $CENTURY{.| from the point of view of $PERSON.| in #2-5 paragraphs.|?}',
  '{List|Weigh|Compare} the pros and cons of $TOPIC {for|from the point of view of} $AUDIENCE.',
  '{Pretend you are|Imagine you are|Act as|You are} $PERSON{.| and} {answer this question|respond to this|give your honest opinion|share your view}: {what do you think about|how do you feel about|what should people know about|why should anyone care about} $TOPIC?',
  '{Come up with|Invent|Write} a $ADJ $FORM in which $SENTENCE',
  'Find the odd one out in this list{| and explain why|, then justify your choice}: $ITEMS.',
  '{Outline|Plan|Sketch} a #5-60-minute {lesson|workshop|class} on $TOPIC for $AUDIENCE, with #2-5 activities.',
  '{Estimate|Make a rough guess of|Work out} how many {piano tuners work|coffee shops there are|taxis there are|dentists practice|golf balls would fill a bus|trees grow|bicycles are sold each year|pizzas are eaten each day|cats live|people speak $LANGUAGE|umbrellas are sold each year|elevators there are|tennis courts there are} in $PLACE{, and explain your assumptions.|. Show your reasoning.|.}',
  'Identify the main argument in this paragraph and rate its strength from 1 to {5|10}: "$SENTENCE $SENTENCE $SENTENCE"',
  '{Recommend|Suggest} #2-7 {books|podcasts|documentaries|online courses} about $TOPIC for $AUDIENCE{, with one sentence on each.|.}',
  '{Debug|Fix|Review} the following $PROG snippet: "for i in range(#1-9): print(i"',
  '{Tell me|Share|List} #2-9 {surprising|little-known|fun} facts about $TOPIC{.| $CONTEXT.}',
  '{How would you explain|Can you explain|Explain} $TOPIC {using|with|through} an analogy {about|involving|based on} {cooking|football|gardening|traffic|a library|a birthday party|the weather|a school cafeteria|a river|chess|a car engine}{?|.}',
  '{Plan|Organize} a #2-14-day trip to $PLACE on a budget of $MONEY, including {museums|local food|hiking|nightlife|day trips|markets}.',
  'Read the story below and write #2-6 {comprehension questions|discussion questions|true/false statements} about it{, with answers|}. $STORY',
  '{Argue|Make the case} {for|against} the claim that $TOPIC {matters more than|is overrated compared with} $TOPIC.',
  '{Write|Draft} a dialogue between $PERSON and $PERSON about $TOPIC{.| in #4-12 lines.}',
  '{Turn|Convert} this {sentence|line} into a question: "$SENTENCE"',
  'Given the sentence "$SENTENCE", {identify the subject and the verb|count the nouns|name the tense|rewrite it in the passive voice}.',
  '{Create|Write} a #3-10-question multiple-choice quiz on $TOPIC for $AUDIENCE.',
  '{Describe|Imagine} a day in the life of $PERSON in $PLACE{| in the $CENTURY}.',
  'What {would happen|could go wrong} if $SENTENCE',
  '{Write|Give me} a {recipe|shopping list|packing list|checklist} for {a picnic|a camping trip|a vegan dinner party|a rainy weekend|moving house|a first date|a job interview} {for #2-12 people|on a budget of $MONEY|in $PLACE}.',
  '{Correct|Improve} the {logic|structure|wording} of this {argument|claim}: "$FACT, so $SENTENCE"',
  'Why do {people|teenagers|cats|companies|governments|investors} {care about|misunderstand|argue about|ignore} $TOPIC?',
  '{Name|Identify} the {figure of speech|logical fallacy|tone|main verb} in: "$SENTENCE"',
  '{Brainstorm|List} #3-10 {ways|reasons|strategies} to {make|help} $AUDIENCE {more interested in|less afraid of|better at} $TOPIC.',
  '{Draft|Write} a {job ad|product review|press release|FAQ} for a $BUSINESS that sells $PRODUCT.',
  '{Rank|Order} these from {most to least|least to most} {expensive|dangerous|popular|important} and {explain|justify} your order: $ITEMS.',
];

function expand(rng: Rng, template: string): string {
  let text = template;
  // Innermost alternatives first, so alternatives can nest.
  for (let m = /\{([^{}]*)\}/.exec(text); m !== null; m = /\{([^{}]*)\}/.exec(text)) {
    text = text.slice(0, m.index) + pick(rng, (m[1] as string).split('|')) + text.slice(m.index + m[0].length);
  }
  text = text.replace(/\$([A-Z]+)/g, (_, name: string) => (SLOTS[name] as (rng: Rng) => string)(rng));
  return text.replace(/#(\d+)-(\d+)/g, (_, lo: string, hi: string) => String(n(rng, Number(lo), Number(hi))));
}

/** A fresh instruction: a template, sometimes with an opener and one or two constraint clauses. */
function freshInstruction(rng: Rng): string {
  let text = expand(rng, pick(rng, TEMPLATES));
  if (chance(rng, 0.12)) {
    const opener = pick(rng, OPENERS);
    text = opener + text.charAt(0).toLowerCase() + text.slice(1);
  }
  if (chance(rng, 0.45)) text += ` ${pick(rng, CONSTRAINTS)}`;
  if (chance(rng, 0.15)) text += ` ${pick(rng, CONSTRAINTS)}`;
  return text;
}

const FILLER_WORDS = ['briefly', 'please', 'also', 'clearly', 'really', 'carefully', 'simple', 'new', 'very', 'exactly', 'then'];
const SWAP_WORDS = [
  'write', 'compose', 'create', 'draft', 'explain', 'describe', 'list', 'give', 'short', 'long', 'brief',
  'story', 'essay', 'three', 'five', 'ten', 'examples', 'ideas', 'reasons', 'tips', 'steps', 'answer',
];

/** One small edit of an instruction; some change its tokens, some (case, punctuation) only its characters. */
function edit(rng: Rng, text: string): string {
  const words = text.split(' ');
  const at = (lo = 0): number => lo + rng.int(Math.max(1, words.length - lo));
  switch (rng.int(11)) {
    case 0:
    case 1: {
      // Swap a word (never the first, so the text keeps an ASCII-letter start).
      const i = at(1);
      words[i] = pick(rng, SWAP_WORDS) + (/[.,:;?!"]$/.exec(words[i] ?? '')?.[0] ?? '');
      return words.join(' ');
    }
    case 2: {
      if (words.length > 5) words.splice(at(1), 1);
      return words.join(' ');
    }
    case 3: {
      words.splice(at(1), 0, pick(rng, FILLER_WORDS));
      return words.join(' ');
    }
    case 4:
      return text.replace(/\d+/, () => String(n(rng, 1, 999)));
    case 5:
      return `${text} ${pick(rng, CONSTRAINTS)}`;
    case 6: {
      // Case only: same tokens.
      const style = rng.int(3);
      if (style === 0) return text.toUpperCase();
      if (style === 1) return words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' ');
      return text.charAt(0) + text.slice(1).toLowerCase();
    }
    case 7: {
      // Punctuation and spacing only: same tokens.
      const style = rng.int(4);
      if (style === 0) return text.replace(/[.?!]$/, '') + pick(rng, ['!', '?!', ' :)', '...', ' --']);
      if (style === 1) return text.replace(/, /g, ' , ').replace(/ (\w+) /, ' ($1) ');
      if (style === 2) return text.replace(/ /g, '  ');
      return text.replace(/ (\w+) (\w+) /, ' $1-$2 ');
    }
    case 8: {
      // Token-changing punctuation: contractions and joined words split or merge tokens.
      return text
        .replace(/\bdo not\b/i, "don't")
        .replace(/\bDon't\b/, 'Do not')
        .replace(/\be-mail\b/i, 'email')
        .replace(/\bstep by step\b/, 'step-by-step')
        .replace(/\bthe\b/, "the world's");
    }
    case 9: {
      // Reorder: move the last clause-ish chunk to the front (after the first word).
      if (words.length < 8) return text;
      const cut = 3 + rng.int(words.length - 6);
      return [words[0] as string, ...words.slice(cut), ...words.slice(1, cut)].join(' ');
    }
    default: {
      // Replace a whole slot value, as a second template fill would.
      const swaps: readonly (readonly string[])[] = [TOPICS, AUDIENCES, FORMS, ADJECTIVES, LANGUAGES, PLACES, CATEGORIES, PROG_LANGS];
      for (const list of swaps) {
        const found = list.find((value) => text.includes(value));
        if (found !== undefined) return text.replace(found, pick(rng, list));
      }
      return `${text} ${pick(rng, CONSTRAINTS)}`;
    }
  }
}

/** How many instructions of the stream rewrite an earlier one. */
export const VARIANT_SHARE = 0.22;
/** A variant gets 1..MAX_EDITS edits. */
export const MAX_EDITS = 5;

/**
 * `count` instructions, the same for the same seed. A variant edits an instruction drawn uniformly from those
 * before it, so the share of variants, and of near-duplicates, is the same in any prefix.
 */
export function generateInstructions(count: number, seed: number = DEFAULT_SEED): string[] {
  return generateInstructionStream(count, seed).map((item) => item.text);
}

export interface GeneratedInstruction {
  text: string;
  /** The index of the instruction this one edits, or null for a fresh one. */
  variantOf: number | null;
  /** How many edits made it (0 for a fresh one). */
  edits: number;
}

/** generateInstructions with where each instruction came from. */
export function generateInstructionStream(count: number, seed: number = DEFAULT_SEED): GeneratedInstruction[] {
  const rng = createRng(seed);
  const out: GeneratedInstruction[] = [];
  for (let i = 0; i < count; i++) {
    if (out.length > 0 && chance(rng, VARIANT_SHARE)) {
      const variantOf = rng.int(out.length);
      let text = (out[variantOf] as GeneratedInstruction).text;
      const edits = 1 + rng.int(MAX_EDITS);
      for (let e = 0; e < edits; e++) text = edit(rng, text);
      out.push({ text: text.trim(), variantOf, edits });
    } else {
      out.push({ text: freshInstruction(rng), variantOf: null, edits: 0 });
    }
  }
  return out;
}

/**
 * `count` (target, prediction) pairs for checking ROUGE-L against rouge-score: a fixed list of edge cases
 * (empty, punctuation only, case and Unicode, long texts across 32/64-token words, exact 0.7 ties), then
 * instructions with an edited copy, then unrelated instructions.
 */
export function generatePairs(count: number, seed: number = DEFAULT_SEED + 1): [string, string][] {
  const rng = createRng(seed);
  const fixed: [string, string][] = [
    ['', 'Write a poem.'],
    ['...!?', 'Write a poem.'],
    ['Write a poem about the sea.', 'WRITE A POEM ABOUT THE SEA'],
    ["Don't stop—now! 3.14 apples", 'do not stop now 3 14 apples'],
    ['Café naïve 東京 résumé', 'caf na ve resum'],
    ['İstanbul and the \u212Aelvin scale', 'i stanbul and the kelvin scale'],
    ['snake_case and camelCase and kebab-case', 'snake case and camelcase and kebab case'],
    ['a b c d e f g h i j', 'a b c d e f g x y z'],
    ['The quick brown fox jumps over the lazy dog', 'The quick brown dog jumps on the log.'],
    ['tab\tseparated\nlines\r\nhere', 'tab separated lines here'],
    ['ﬁne ligatures and ß and ẞ', 'fine ligatures and ss'],
    ['x'.repeat(40), 'x '.repeat(40)],
    [Array.from({ length: 70 }, (_, i) => `w${i % 9}`).join(' '), Array.from({ length: 66 }, (_, i) => `w${(i * 4) % 9}`).join(' ')],
  ];
  const texts = generateInstructions(400, seed);
  const out: [string, string][] = fixed.slice(0, count);
  while (out.length < count) {
    const a = texts[rng.int(texts.length)] as string;
    if (chance(rng, 0.6)) {
      let b = a;
      const edits = 1 + rng.int(5);
      for (let e = 0; e < edits; e++) b = edit(rng, b);
      out.push(chance(rng, 0.5) ? [a, b] : [b, a]);
    } else {
      out.push([a, texts[rng.int(texts.length)] as string]);
    }
  }
  return out;
}

/** Writes one JSON object per line: {"id": i, "instruction": text}. */
export function writeInstructionsJsonl(path: string, instructions: readonly string[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, instructions.map((instruction, id) => JSON.stringify({ id, instruction })).join('\n') + '\n');
}

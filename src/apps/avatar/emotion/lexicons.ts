// Word lists the sentence generator draws from, written for this project, English and
// Chinese. Each list is split by strength tier (1 mild, 2 clear, 3 strong); the tier sets
// the intensity target. Lists are "|"-separated strings to keep the file readable.

import type { Emotion } from "../faceRig.js";

export type Strength = 1 | 2 | 3;
export interface LexEntry {
  text: string;
  strength: Strength;
}
export type TieredList = Record<Strength, string>;

const parse = (tiers: TieredList): LexEntry[] =>
  ([1, 2, 3] as const).flatMap((strength) =>
    tiers[strength]
      .split("|")
      .map((w) => w.trim())
      .filter((w) => w.length > 0)
      .map((text) => ({ text, strength })),
  );

// ---------------------------------------------------------------- English

/** How a person feels ("I am ___"). */
export const EN_FEELING: Record<Exclude<Emotion, "neutral">, LexEntry[]> = {
  happy: parse({
    1: "content|pleased|glad|relieved|satisfied|comfortable|fine|okay with it|at ease|hopeful|calm and happy",
    2: "happy|cheerful|grateful|thankful|excited|proud|joyful|delighted|in a good mood|optimistic|lucky|blessed|impressed",
    3: "thrilled|overjoyed|ecstatic|over the moon|elated|on cloud nine|so happy i could cry|absolutely delighted|in love with it",
  }),
  sad: parse({
    1: "a bit down|disappointed|unhappy|let down|sorry|bummed|blue|tired of this|homesick|lonely",
    2: "sad|upset|depressed|gloomy|miserable|hurt|discouraged|regretful|heartsick|hopeless|dejected|sorrowful",
    3: "heartbroken|devastated|crushed|in tears|grief-stricken|inconsolable|broken inside|desperate",
  }),
  angry: parse({
    1: "annoyed|irritated|bothered|frustrated|cross|grumpy|impatient|displeased",
    2: "angry|mad|upset with them|fed up|resentful|offended|indignant|pissed|sick of this|disgusted",
    3: "furious|livid|outraged|enraged|fuming|seething|infuriated|beyond angry|absolutely livid",
  }),
  surprised: parse({
    1: "a little surprised|curious|puzzled|caught off guard",
    2: "surprised|amazed|astonished|startled|stunned|shocked|taken aback|speechless",
    3: "completely shocked|blown away|flabbergasted|absolutely stunned|dumbfounded|in total disbelief",
  }),
};

/** Judgements of a thing ("the phone is ___"), by polarity. */
export const EN_QUALITY_POSITIVE = parse({
  1: "fine|okay|decent|good enough|not bad|acceptable|reasonable|nice|solid|pretty good|useful|handy|fair",
  2: "good|great|nice|reliable|sturdy|comfortable|easy to use|well made|clear|fast|useful|impressive|beautiful|lovely|helpful|friendly|delicious|cheap and good|well priced|quiet|bright|light|convenient|a good deal|worth it|worth the money|well designed|smooth|responsive|accurate|durable|elegant|cute|sharp|spotless|comfy|cozy|spacious|clean|affordable|inexpensive|fresh|tasty|kind|polite|quick|sturdy enough",
  3: "excellent|amazing|awesome|fantastic|perfect|outstanding|superb|wonderful|brilliant|incredible|flawless|the best|exceptional|terrific|phenomenal|magnificent|top notch|first class|superior|a great value|a must have|a lifesaver",
});
export const EN_QUALITY_NEGATIVE = parse({
  1: "mediocre|nothing special|nothing to write home about|average at best|meh|so-so|a bit slow|slightly loose|overpriced|bland|clumsy|uncomfortable|weak|noisy|dim|flimsy|too small|too big|awkward|confusing|slow|inconvenient|underwhelming|not great|lacking",
  2: "bad|poor|disappointing|cheaply made|faulty|unreliable|defective|broken|useless|annoying|inferior|fragile|buggy|low quality|poorly made|blurry|unusable|inaccurate|a letdown|hard to use|not worth it|a waste of money|rude|unhelpful|dirty|cold and tasteless|stale|greasy",
  3: "terrible|awful|horrible|the worst|garbage|junk|a piece of junk|crap|trash|pathetic|atrocious|a total disaster|a scam|a rip off|worthless|disgusting|abysmal|dreadful|appalling|unacceptable|ridiculous",
});

/** Whole clauses about a product or service. Subject-free: the generator adds "it" / "this X". */
export const EN_PRODUCT_POSITIVE = parse({
  1: "does the job|works as described|works fine|is what i expected|arrived on time|fits well|holds a charge|does what it says",
  2: "works great|works well|works perfectly|sounds great|looks great|feels solid|fits perfectly|charges quickly|arrived early|exceeded my expectations|is easy to set up|was a good buy|keeps a charge all day|is very comfortable to wear|gets the job done|has great sound quality|has good reception|is worth every penny|was packed well",
  3: "is the best purchase i have made|blew me away|works like a charm|is absolutely perfect|is a joy to use|has amazing battery life|is the best one i have ever owned|is simply excellent",
});
export const EN_PRODUCT_NEGATIVE = parse({
  1: "could be better|is a bit loose|takes forever to charge|feels a little cheap|is hard to read|gets warm|drops the signal sometimes|is not what i expected|barely works|hardly works|barely lasts an hour|barely holds a charge",
  2: "stopped working|doesn't hold a charge|never fit right|broke after a week|died after two days|does not work|doesn't fit|keeps disconnecting|has poor sound quality|has terrible reception|fell apart|would not charge|arrived damaged|did not last|drains the battery|has a lot of static|keeps dropping calls|is too quiet to hear|was a waste of money|never worked properly|had to be returned|feels cheap|froze constantly|broke the first time i used it",
  3: "is a complete waste of money|is total junk|broke immediately|is the worst product i have ever bought|caught fire|is a total scam|is an absolute disaster|ruined my day",
});
/** Recommendations and verdicts (full sentences). */
export const EN_VERDICT_POSITIVE = parse({
  1: "i would buy it again|no complaints so far|i am satisfied with it|it was worth a try|i recommend it",
  2: "i highly recommend it|i love it|i love this thing|five stars|would recommend to anyone|very satisfied|thumbs up|great buy|i am very happy with my purchase|you won't regret it|two thumbs up|a great product|good value for the money",
  3: "best purchase ever|i absolutely love it|i can't recommend it enough|ten out of ten|a must buy|everyone should own one",
});
export const EN_VERDICT_NEGATIVE = parse({
  1: "i would not buy it again|i expected more|i am not impressed|not recommended|i regret buying it",
  2: "do not buy this|don't waste your money|i want a refund|i returned it|avoid this product|one star|would not recommend|stay away|i hate it|i am returning it|save your money|thumbs down",
  3: "never buying from them again|worst purchase ever|zero stars if i could|i want my money back right now|complete rip off|avoid at all costs",
});

/** Situations that cause a feeling (clauses after "because"). */
export const EN_CAUSES: Record<Exclude<Emotion, "neutral">, string[]> = {
  happy: [
    "i got the job",
    "my friends threw me a party",
    "the package arrived early",
    "we won the game",
    "it finally works",
    "my test results came back fine",
    "the weather is perfect",
    "my sister is getting married",
    "i passed the exam",
    "the new phone is amazing",
  ],
  sad: [
    "my dog died",
    "i lost my job",
    "my best friend moved away",
    "the trip was cancelled",
    "nobody came to the party",
    "i failed the exam",
    "my grandmother is sick",
    "it broke after one day",
    "i miss my family",
    "we lost the game",
  ],
  angry: [
    "they lied to me",
    "the store refused my refund",
    "someone stole my bike",
    "they charged me twice",
    "support hung up on me",
    "the driver was rude",
    "i waited three hours for nothing",
    "they cancelled my order without telling me",
    "he broke his promise again",
    "the seller ignored my emails",
  ],
  surprised: [
    "i won the lottery",
    "she showed up out of nowhere",
    "the price dropped by half",
    "it actually works",
    "nobody told me",
    "it arrived in one day",
    "he proposed",
    "the results came in so fast",
  ],
};

/** Short exclamations (full utterances). */
export const EN_INTERJECTIONS: Record<Exclude<Emotion, "neutral">, LexEntry[]> = {
  happy: parse({
    1: "nice|cool|sweet|good",
    2: "yay|hooray|great|awesome|love it|perfect",
    3: "woohoo|best day ever|yes yes yes|amazing",
  }),
  sad: parse({
    1: "oh well|too bad|sigh",
    2: "oh no|how sad|what a shame|so sad",
    3: "this is heartbreaking|i can't stop crying",
  }),
  angry: parse({
    1: "ugh|seriously|come on",
    2: "how dare you|this is ridiculous|unbelievable|what a joke",
    3: "this is outrageous|enough is enough|i am done with this",
  }),
  surprised: parse({
    1: "oh|huh|really",
    2: "wow|whoa|no way|oh my|what a surprise|i can't believe it",
    3: "oh my god|holy cow|i can't believe my eyes|you're kidding me",
  }),
};

/** Degree words, with their effect on intensity. */
export const EN_INTENSIFIERS = [
  "very",
  "really",
  "so",
  "extremely",
  "incredibly",
  "totally",
  "absolutely",
  "super",
  "truly",
  "completely",
];
export const EN_DIMINISHERS = ["a bit", "slightly", "somewhat", "a little", "kind of", "sort of", "fairly", "mildly"];

export const EN_SUBJECTS = [
  "i",
  "we",
  "my wife",
  "my husband",
  "my son",
  "she",
  "he",
  "they",
  "my friend",
  "my mom",
  "everyone",
  "my boss",
];
export const EN_ITEMS = [
  "phone",
  "headset",
  "charger",
  "case",
  "battery",
  "camera",
  "speaker",
  "laptop",
  "screen",
  "keyboard",
  "earbuds",
  "cable",
  "product",
  "service",
  "hotel",
  "restaurant",
  "food",
  "movie",
  "book",
  "app",
  "car",
  "room",
  "staff",
  "delivery",
  "customer service",
  "price",
  "design",
  "sound",
  "quality",
  "software",
  "game",
  "show",
  "meal",
  "coffee",
  "seller",
  "store",
  "flight",
  "blender",
  "shoes",
  "jacket",
  "mouse",
  "headphones",
  "adapter",
  "bluetooth",
  "microphone",
  "device",
  "unit",
  "item",
  "company",
  "website",
];

/** Neutral sentences: facts, plans, instructions, questions. */
export const EN_NEUTRAL = [
  "the package arrived on tuesday",
  "i bought this last month",
  "it comes in black and silver",
  "the box contains a cable and a manual",
  "the meeting starts at three",
  "please send me the file",
  "i will call you tomorrow",
  "the store opens at nine",
  "it weighs about two hundred grams",
  "we took the train to work",
  "the battery is removable",
  "my phone is a samsung",
  "i use it every day for calls",
  "the manual is in english and spanish",
  "what time is it",
  "where did you buy it",
  "does it work with an iphone",
  "is there a charger in the box",
  "how long does shipping take",
  "the cable is one meter long",
  "i ordered two of them",
  "i have had it for a week",
  "the restaurant is on main street",
  "she is reading a book",
  "it is raining outside",
  "the report is due on friday",
  "the screen is six inches",
  "i plugged it into my laptop",
  "the color is dark blue",
  "turn left at the next corner",
  "he works at a bank",
  "we had pasta for dinner",
  "the model number is on the back",
  "i switched from my old phone",
  "this is my second one",
  "it uses two aa batteries",
  "the update was installed yesterday",
  "the hotel has two hundred rooms",
  "my order number is on the receipt",
  "i paired it with my car",
];

// ---------------------------------------------------------------- Chinese

export const ZH_FEELING: Record<Exclude<Emotion, "neutral">, LexEntry[]> = {
  happy: parse({
    1: "满意|放心|舒服|安心|欣慰|还算满意",
    2: "开心|高兴|快乐|愉快|幸福|兴奋|感动|骄傲|得意|欢喜|喜欢|感激|爽",
    3: "非常开心|太高兴了|乐坏了|心花怒放|欣喜若狂|开心死了|幸福极了",
  }),
  sad: parse({
    1: "有点失落|不太开心|遗憾|郁闷|无奈|惆怅|想家",
    2: "难过|伤心|失望|沮丧|悲伤|委屈|孤独|心酸|痛苦|后悔|心疼",
    3: "心碎|绝望|痛不欲生|伤心欲绝|哭了一整夜|难过极了|崩溃",
  }),
  angry: parse({
    1: "不爽|烦|有点烦|不耐烦|不满",
    2: "生气|愤怒|恼火|气愤|讨厌|火大|烦死了|受够了",
    3: "气死了|气炸了|暴怒|怒不可遏|火冒三丈|忍无可忍|恨死了",
  }),
  surprised: parse({
    1: "有点意外|好奇|纳闷",
    2: "惊讶|吃惊|意外|震惊|惊呆了|没想到",
    3: "大吃一惊|目瞪口呆|简直不敢相信|太震惊了|惊掉下巴",
  }),
};
export const ZH_QUALITY_POSITIVE = parse({
  1: "还行|还可以|凑合|过得去|挺好|不错|还不错",
  2: "好|好用|好看|好吃|方便|实用|舒服|清楚|结实|划算|快|漂亮|精致|耐用|流畅|贴心|专业|干净|值|靠谱|给力",
  3: "完美|超棒|棒极了|特别好|无可挑剔|物超所值|太好用了|一流|惊艳|好评|五星好评",
});
export const ZH_QUALITY_NEGATIVE = parse({
  1: "一般|普通|有点慢|偏贵|有点吵|不太方便|凑合用|有点小",
  2: "差|不好用|难用|质量差|慢|贵|坏了|卡|粗糙|难吃|脏|不清楚|不值|失望|掉色|漏电|太吵",
  3: "垃圾|太坑了|坑|太差了|烂透了|极差|差评|骗人|坑人|恶心|简直是垃圾|最差|差劲透了",
});
export const ZH_PRODUCT_POSITIVE = parse({
  1: "用着还行|和描述一致|按时到了|包装完好",
  2: "很好用|质量很好|效果很好|音质很好|发货很快|物流很快|客服很热情|性价比很高|做工精细|手感很好|续航很久|值得购买|推荐购买",
  3: "太好用了|超出预期|强烈推荐|买得太值了|是我用过最好的|好到没话说",
});
export const ZH_PRODUCT_NEGATIVE = parse({
  1: "有点不满意|和图片有点不一样|发货有点慢|声音有点小",
  2: "用了两天就坏了|根本不能用|质量很差|一直断线|充不进电|客服不理人|收到就是坏的|做工很粗糙|退货了|不值这个价|电池不耐用|信号很差",
  3: "完全是垃圾|再也不买了|千万别买|浪费钱|简直是骗子|退款都不给",
});
export const ZH_CAUSES: Record<Exclude<Emotion, "neutral">, string[]> = {
  happy: ["我考上了大学", "今天发工资了", "朋友给我过生日", "我们赢了比赛", "快递提前到了", "终于放假了"],
  sad: ["我的猫走丢了", "我失业了", "好朋友搬走了", "考试没及格", "旅行取消了", "奶奶生病了"],
  angry: ["他们骗了我", "商家不给退款", "有人偷了我的车", "被扣了两次钱", "司机态度很差", "等了三个小时"],
  surprised: ["我中奖了", "她突然出现了", "价格降了一半", "一天就到货了", "他求婚了"],
};
export const ZH_INTERJECTIONS: Record<Exclude<Emotion, "neutral">, LexEntry[]> = {
  happy: parse({ 1: "挺好", 2: "太好了|好开心|耶|真棒|赞", 3: "太棒了|开心死了|完美" }),
  sad: parse({ 1: "唉|算了", 2: "好难过|好伤心|真可惜", 3: "心都碎了|哭死了" }),
  angry: parse({ 1: "烦|真烦", 2: "气人|太过分了|岂有此理|无语", 3: "气死我了|滚|忍无可忍" }),
  surprised: parse({ 1: "咦|嗯?", 2: "哇|天哪|真的吗|不会吧|居然", 3: "我的天哪|简直不敢相信|什么?!" }),
};
export const ZH_INTENSIFIERS = ["很", "非常", "特别", "超级", "太", "真", "十分", "极其", "好", "相当"];
export const ZH_DIMINISHERS = ["有点", "有些", "稍微", "略", "比较"];
export const ZH_SUBJECTS = ["我", "我们", "他", "她", "他们", "妈妈", "朋友", "老板", "大家", "我老公", "我女儿"];
export const ZH_ITEMS = [
  "手机",
  "耳机",
  "充电器",
  "电池",
  "相机",
  "音箱",
  "电脑",
  "屏幕",
  "键盘",
  "产品",
  "服务",
  "酒店",
  "餐厅",
  "菜",
  "电影",
  "书",
  "软件",
  "车",
  "房间",
  "快递",
  "客服",
  "质量",
  "价格",
  "衣服",
  "鞋子",
  "外卖",
  "店家",
  "游戏",
  "咖啡",
  "杯子",
];
export const ZH_NEUTRAL = [
  "快递周二到了",
  "我上个月买的",
  "有黑色和白色两种",
  "盒子里有一根数据线",
  "会议三点开始",
  "请把文件发给我",
  "我明天给你打电话",
  "商店九点开门",
  "大概两百克重",
  "我们坐地铁上班",
  "现在几点了",
  "你在哪里买的",
  "支持苹果手机吗",
  "盒子里有充电器吗",
  "发货要多久",
  "数据线一米长",
  "我买了两个",
  "我已经用了一个星期",
  "餐厅在中山路",
  "她在看书",
  "外面在下雨",
  "报告周五交",
  "屏幕六英寸",
  "颜色是深蓝色",
  "下个路口左转",
  "他在银行工作",
  "我们晚饭吃了面条",
  "型号在背面",
  "这是我的第二台",
  "昨天装了更新",
];

/** Emoji and emoticons by emotion. */
export const EMOJI: Record<Exclude<Emotion, "neutral">, string[]> = {
  happy: [":)", ":-)", ":d", "=)", "😊", "😀", "😄", "😍", "❤️", "👍", "🥰", "<3", "^_^"],
  sad: [":(", ":-(", ":'(", "😢", "😭", "😞", "💔", "☹️", "t_t"],
  angry: ["😠", "😡", "🤬", "👎", ">:(", "💢"],
  surprised: [":o", ":-o", "😮", "😲", "😱", "🤯", "o_o"],
};

/** What a seller, shop or support team did (clauses after a service subject). */
export const EN_SERVICE_SUBJECTS = [
  "the seller",
  "customer service",
  "the staff",
  "support",
  "they",
  "the company",
  "the store",
  "the waiter",
  "the manager",
  "the hotel",
  "the shop",
];
export const EN_SERVICE_POSITIVE = parse({
  1: "answered my question|shipped it on time|replied the next day|kept me updated",
  2: "answered all my questions|responded quickly|was very kind|helped me right away|replaced it for free|refunded me quickly|was friendly and helpful|fixed the problem in minutes|treated us very well|was very professional",
  3: "went out of their way to help|went above and beyond|could not have been nicer|made our whole trip",
});
export const EN_SERVICE_NEGATIVE = parse({
  1: "took a while to reply|was slow to respond|forgot part of the order",
  2: "ignored my emails|never responded|hung up on me|charged me twice|never shipped my order|won't replace it|refused to refund me|was rude to me|kept me on hold for an hour|sent the wrong item|lied about the warranty|cancelled my order without notice",
  3: "scammed me|stole my money|treated me like garbage|were the rudest people i have ever met",
});

// ---------------------------------------------------------------- neutral parts (composed by the generator)

export const EN_NEUTRAL_PEOPLE = [
  "i",
  "we",
  "my brother",
  "the kids",
  "our neighbor",
  "my coworker",
  "he",
  "she",
  "they",
  "the driver",
  "my teacher",
  "my dad",
];
export const EN_NEUTRAL_ACTIONS = [
  "bought a {item}",
  "ordered two {item}s",
  "charged the {item}",
  "plugged the {item} into the wall",
  "took the bus",
  "moved to a new city",
  "opened the box",
  "read the manual",
  "called the office",
  "cleaned the kitchen",
  "walked to the station",
  "parked the car",
  "wrote an email",
  "borrowed my {item}",
  "set up the {item}",
  "updated the software",
  "picked up the package",
  "installed the app",
  "paid with a card",
  "carried it in a bag",
  "used the {item} for calls",
  "put the {item} on the shelf",
  "checked the tracking number",
  "went to the store",
  "had lunch at noon",
  "drove to the airport",
  "switched to a new {item}",
  "compared two models",
  "sent the form",
  "looked at the specs",
];
export const EN_NEUTRAL_TIMES = [
  "yesterday",
  "last week",
  "on monday",
  "at six",
  "in the morning",
  "after lunch",
  "at the office",
  "at home",
  "before work",
  "every morning",
  "on the weekend",
  "last month",
  "today",
  "this afternoon",
  "in march",
];
export const EN_NEUTRAL_SPECS = [
  "is made of plastic",
  "is made of metal",
  "has two buttons",
  "has a usb port",
  "comes with a cable",
  "runs on batteries",
  "weighs about 200 grams",
  "is about ten centimeters long",
  "uses bluetooth",
  "needs a 12 volt adapter",
  "uses the same charger",
  "takes two hours to charge",
  "is black",
  "is dark blue",
  "comes in three colors",
  "has a clip on the back",
  "fits in a pocket",
  "has a volume switch",
  "ships in a cardboard box",
  "has a removable cover",
  "is sold in packs of two",
  "has a serial number on the side",
];
export const EN_NEUTRAL_QUESTIONS = [
  "does the {item} come with a cable",
  "how long does the {item} take to charge",
  "where can i buy a {item}",
  "which {item} should i get",
  "is the {item} compatible with android",
  "can i use the {item} while it charges",
  "what size is the {item}",
  "how much is the {item}",
  "when does the store open",
  "who is picking up the kids",
  "what is the model number",
  "is the {item} waterproof",
];
/** Words with no feeling of their own, for the same frames the lexicon words appear in. */
export const EN_NEUTRAL_WORDS =
  "blue|black|white|plastic|metal|square|round|wooden|electric|wireless|digital|daily|weekly|local|open|closed|empty|full|foldable|portable|standard|optional|red|green|gray|silver|tall|short|long|thin|thick|flat|new|used|manual|automatic|public|private|ordinary|normal|usual|typical|regular|medium|large|early|indoor|outdoor|monthly|annual|basic|extra|different|similar|same|other|next|last|first|second|third|main|central|northern|southern|western|eastern|modern|classic|technical|legal|medical|financial|musical|rural|urban|domestic|foreign|official|annual|square|rectangular|striped|printed|written|spoken|paper|glass|cotton|leather|steel|rubber|copper|orange|purple|yellow|brown|pink|maroon|beige|online|offline|analog|mobile|remote|internal|external|vertical|horizontal|optional|current|recent|previous|upcoming|ongoing|available|unknown|numbered|labeled|stacked|folded|sealed|packed|shipped|delivered|charged|connected|installed|updated|scheduled|listed|measured".split(
    "|",
  );

export const ZH_NEUTRAL_PEOPLE = ["我", "我们", "他", "她", "妈妈", "爸爸", "同事", "邻居", "快递员", "老师", "孩子们"];
export const ZH_NEUTRAL_TIMES = ["昨天", "今天早上", "上周", "周一", "下午", "晚上", "上个月", "刚才", "明天", "每天"];
export const ZH_NEUTRAL_ACTIONS = [
  "买了一个{item}",
  "去了北京",
  "坐公交上班",
  "在图书馆看书",
  "在做饭",
  "把{item}放在桌子上",
  "送来了包裹",
  "给朋友打了电话",
  "打开了盒子",
  "看了说明书",
  "下载了软件",
  "充了电",
  "去了超市",
  "换了一个{item}",
  "填了表格",
  "查了快递单号",
  "开车去机场",
  "吃了午饭",
  "整理了房间",
  "更新了系统",
];
export const ZH_NEUTRAL_SPECS = [
  "是黑色的",
  "是塑料的",
  "是金属的",
  "有两个按钮",
  "需要充电两个小时",
  "用的是蓝牙",
  "大概两百克",
  "有三种颜色",
  "可以放进口袋",
  "带一根数据线",
  "用的是五号电池",
  "背面有型号",
];
export const ZH_NEUTRAL_QUESTIONS = [
  "{item}多少钱",
  "这个{item}能连蓝牙吗",
  "你什么时候到",
  "明天几点出发",
  "{item}有几种颜色",
  "在哪里可以买到{item}",
  "{item}要充多久电",
  "这个{item}是什么型号",
];

/** Openers of a review sentence that carry no feeling themselves. */
export const EN_OPENERS = [
  "after a week of use,",
  "for the price,",
  "overall,",
  "so far",
  "honestly,",
  "to be honest,",
  "in short,",
  "i bought this for my wife and",
  "we have used it for a month and",
  "after reading the reviews,",
  "i got this as a gift and",
];
export const ZH_OPENERS = [
  "收到了，",
  "收到货了，",
  "用了一周，",
  "第二次买了，",
  "昨天到的，",
  "总的来说，",
  "说实话，",
  "给家里人买的，",
  "用了一个月，",
];

/** Chat with the digital human: greetings and requests (neutral), thanks, longing, rebuffs, disbelief. */
export const EN_CHAT: Record<Emotion, LexEntry[]> = {
  neutral: parse({
    1: "hello|hi|hi there|hey|good morning|good afternoon|good evening|how are you|how is it going|what's up|can you help me|tell me about your day|what is the weather like today|what time is it|see you tomorrow|goodbye|bye|talk to you later|what's your name|where are you from|can you repeat that|let me think|one moment please|i have a question|how do i get to the station|what do you think|please tell me a story|let's start|are you there|nice to meet you too",
    2: "",
    3: "",
  }),
  happy: parse({
    1: "thanks|thank you|good to see you|that's nice|sounds good|cheers",
    2: "thank you so much|thanks a lot|i appreciate it|that's very kind of you|you're so sweet|congratulations|happy birthday|well done|good job|i'm glad to hear that|nice work|i love talking to you",
    3: "you made my day|you're the best|thank you from the bottom of my heart|this is the best news ever|i'm so proud of you",
  }),
  sad: parse({
    1: "i'm sorry|sorry to hear that|i wish you were here|i'm tired",
    2: "i miss you|i miss you so much|i'm sorry for your loss|i feel alone|nobody understands me|i had a bad day|i can't sleep|i failed again",
    3: "i lost everything|my heart is broken|i don't want to go on like this|i cried all night",
  }),
  angry: parse({
    1: "stop it|whatever|that's annoying|not again",
    2: "leave me alone|go away|you never listen|shut up|stop bothering me|i told you already|don't touch my stuff",
    3: "get out of here|i've had enough of you|how dare you say that|this is the last straw",
  }),
  surprised: parse({
    1: "really|is that true|oh really",
    2: "wait, are you serious|you did what|no kidding|are you kidding me|since when|what just happened",
    3: "what on earth|i can't believe you did that|that's impossible",
  }),
};
export const ZH_CHAT: Record<Emotion, LexEntry[]> = {
  neutral: parse({
    1: "你好|您好|早上好|下午好|晚上好|请问|在吗|你叫什么名字|今天天气怎么样|明天见|再见|现在几点|你在做什么|我有个问题|稍等一下|讲个故事吧|你从哪里来|怎么去火车站|我们开始吧|你觉得呢",
    2: "",
    3: "",
  }),
  happy: parse({
    1: "谢谢|好的呀|不客气|挺好的",
    2: "谢谢你|太感谢了|辛苦了|你真好|生日快乐|恭喜恭喜|干得好|很高兴认识你|听到这个我很高兴",
    3: "你是最棒的|真是太感谢你了|今天是最开心的一天|为你骄傲",
  }),
  sad: parse({
    1: "对不起|我累了|真遗憾",
    2: "我想你了|我好想你|节哀顺变|好想家|没人理解我|今天过得很糟|我睡不着",
    3: "我的心碎了|我哭了一整夜|我什么都没有了",
  }),
  angry: parse({
    1: "别闹了|又来了|好烦",
    2: "别烦我|走开|闭嘴|你从来不听|别碰我的东西|我已经说过了",
    3: "给我滚|我受够你了|你怎么敢这么说",
  }),
  surprised: parse({
    1: "是吗|真的吗",
    2: "什么？真的假的|你说什么|不会吧|开玩笑吧|什么时候的事",
    3: "这怎么可能|简直难以置信",
  }),
};

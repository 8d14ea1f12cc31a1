// A small hand-written validation set, written for this project in the styles the
// classifier meets (reviews, chat, exclamations), English and Chinese. The recipe was
// chosen on it and on the synthetic held-out split; it is never trained on.

import type { Emotion } from "../faceRig.js";

export interface ValidationSentence {
  text: string;
  emotion: Emotion;
}

const rows = (emotion: Emotion, texts: string): ValidationSentence[] =>
  texts
    .split("\n")
    .map((t) => t.trim())
    .filter((t) => t.length > 0)
    .map((text) => ({ text, emotion }));

export const VALIDATION_SET: readonly ValidationSentence[] = [
  ...rows(
    "happy",
    `
    Thank you so much for your help!
    You made my day.
    谢谢你，你真好！
    The keyboard feels great to type on.
    Everything about this kit is top quality.
    I was skeptical at first, but it turned out to be great.
    The room was spotless and the bed was comfy.
    Works with my car stereo with no trouble at all.
    The seller answered my question within an hour, very kind.
    Love the color and the size is just right.
    It's cheap and it does everything I need.
    这个价格能买到这么好的东西，值了。
    客服很耐心，帮我解决了问题。
    Honestly the best headphones I've owned in years.
    Setup took two minutes and it has worked flawlessly since.
    My daughter loves her new tablet, thanks!
    Really comfortable, I wear it all day without noticing.
    Crystal clear calls and the battery lasts forever.
    The staff went out of their way to help us.
    Couldn't ask for a better price.
    So glad I picked this one over the others.
    Exactly what I needed, arrived quickly too.
    Good quality for the money, happy with it.
    The food was delicious and the service was quick.
    Finally a charger that actually charges fast.
    A solid little speaker with surprisingly rich bass.
    We had a wonderful time at the hotel.
    Five stars, would definitely order again.
    收到货了，质量非常好，很满意！
    这家店的服务态度特别好。
    今天心情超级好，终于放假了！
    耳机音质很棒，戴着也舒服。
    `,
  ),
  ...rows(
    "sad",
    `
    I miss you so much.
    我好想你。
    The colors faded after the first wash, a shame.
    It's okay I guess, but nothing special.
    The sound keeps cutting out, which is a pity.
    I had high hopes but it barely works.
    Unfortunately it doesn't fit my model.
    Feeling lonely since everyone left.
    有点可惜，颜色和图片不一样。
    朋友们都走了，我一个人好孤单。
    I really wanted to like it, but it just isn't very good.
    Sadly the screen cracked after a month.
    Not what I hoped for, kind of disappointing.
    The sound is weak and muffled.
    I miss my old phone, this one is worse.
    The battery barely lasts half a day.
    It looked nice in the pictures but feels cheap in hand.
    I'm not happy with this purchase at all.
    The fit is too tight and it hurts my ear.
    Mediocre at best.
    我的狗狗走丢了，好难过。
    质量一般，有点失望。
    这个手机不好用。
    `,
  ),
  ...rows(
    "angry",
    `
    Leave me alone!
    别烦我！
    Worst customer service ever, nobody picks up the phone.
    It broke in a week and they won't replace it. Ridiculous!
    Stop sending me spam, I'm sick of it!
    The battery exploded, this is dangerous junk.
    How can they sell something this bad?
    太坑了，说好的包邮又要运费！
    又迟到了，我真的受够了。
    Absolute garbage, it died the second day.
    Customer support hung up on me twice, unbelievable.
    Do not buy from this seller, they ignored every email.
    Total waste of money and time.
    They charged my card and never shipped the order!
    This is the worst phone I have ever used.
    The clip snapped off immediately, what a joke.
    I'm furious, they refused to refund me.
    真是垃圾，用了一天就坏了！
    客服态度太差了，气死我了。
    千万别买，完全是骗人的。
    `,
  ),
  ...rows(
    "surprised",
    `
    Wait, are you serious?
    什么？真的假的？
    Oh my god, they upgraded us to a suite!
    Really? It costs only ten dollars?
    I was shocked by how light it is.
    竟然还送了一个礼物，好意外！
    Wow, I didn't expect it to arrive so soon!
    No way, it actually fits my old car.
    I can't believe how small it is!
    Whoa, that was unexpected.
    没想到这么快就到了！
    天哪，居然中奖了！
    `,
  ),
  ...rows(
    "neutral",
    `
    Hello, how are you?
    Good morning, can you tell me the time?
    See you tomorrow.
    你好，请问你叫什么名字？
    明天见。
    The case is made of plastic.
    My brother borrowed it last weekend.
    It needs two hours to charge fully.
    Can I use it while it's charging?
    The instructions are printed on the back of the box.
    He takes the bus to school every morning.
    这个充电器是白色的。
    快递放在门口了。
    明天下午三点开会。
    I ordered the black one on Monday.
    The charger plugs into any USB port.
    Does this model have a headphone jack?
    It comes with a user guide and two cables.
    We drove to the airport at six.
    The phone is about the size of a deck of cards.
    I use it mostly at the office.
    The product was shipped from Ohio.
    我周一下的订单。
    这个型号有耳机孔吗？
    我们六点去机场。
    `,
  ),
];

/** A host page that embeds the widget with one script tag, as a customer's own site would. */
export function demoPageHtml(): string {
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>示例商城 · kefu 演示</title>
<style>
  body { font-family: system-ui, "WenQuanYi Zen Hei", "PingFang SC", "Microsoft YaHei", sans-serif; margin: 0; background: #f5f6f8; color: #222; }
  header { background: #1f2937; color: #fff; padding: 16px 32px; font-size: 20px; }
  main { max-width: 880px; margin: 32px auto; padding: 0 16px; line-height: 1.7; }
  code { background: #f0f2f5; padding: 1px 5px; border-radius: 4px; font-size: 13px; }
  .card { background: #fff; border-radius: 8px; padding: 20px 24px; margin-bottom: 16px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
</style>
</head>
<body>
<header>示例商城</header>
<main>
  <div class="card"><h2>欢迎光临</h2><p>这是一个嵌入了 kefu 在线客服组件的演示页面。点击右下角的「在线客服」即可与客服人员对话。</p></div>
  <div class="card"><h3>嵌入方式</h3><pre>&lt;script src="/widget.js" async&gt;&lt;/script&gt;</pre>
    <p>在任意网站上使用时，把 <code>src</code> 写成 kefu 服务器的完整地址（例如 <code>https://kefu.example.com/widget.js</code>），组件会连接到脚本所在的服务器。加上 <code>data-lang="en"</code> 显示英文界面（默认中文；英文浏览器自动切换为英文）。</p></div>
</main>
<script src="/widget.js" async></script>
</body>
</html>`;
}

console.log("widget placeholder")
